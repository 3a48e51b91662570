/* Demo page: language toggle, the list of indexed reports, the embed snippet. Text only via textContent. */
(function () {
  "use strict";

  var html = document.documentElement;
  var toggle = document.getElementById("lang-toggle");
  var saved = null;
  try {
    saved = sessionStorage.getItem("govreport-demo-lang");
  } catch (e) {
    saved = null;
  }
  if (saved === "en" || saved === "zh-CN") html.lang = saved;

  function syncToggle() {
    toggle.textContent = html.lang.indexOf("en") === 0 ? "中文" : "English";
  }
  toggle.addEventListener("click", function () {
    html.lang = html.lang.indexOf("en") === 0 ? "zh-CN" : "en";
    try {
      sessionStorage.setItem("govreport-demo-lang", html.lang);
    } catch (e) {
      /* ignore */
    }
    syncToggle();
  });
  syncToggle();

  var embed = document.getElementById("embed");
  embed.textContent = '<script src="' + location.origin + '/widget.js" data-api="' + location.origin + '"></script>';

  var body = document.getElementById("reports");
  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    return tr;
  }
  function show(rows) {
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (r) {
      body.appendChild(r);
    });
  }
  fetch("/v1/documents")
    .then(function (resp) {
      if (!resp.ok) throw new Error(String(resp.status));
      return resp.json();
    })
    .then(function (list) {
      var docs = (list.documents || []).slice().sort(function (a, b) {
        return String(a.doc_id).localeCompare(String(b.doc_id));
      });
      if (!docs.length) {
        show([row(["—", "", "", ""])]);
        return;
      }
      show(
        docs.map(function (d) {
          return row([d.title || "", d.region || "—", d.year ? String(d.year) : "—", d.doc_id]);
        })
      );
    })
    .catch(function () {
      show([row(["(the index is still loading — reload in a moment / 索引加载中,请稍后刷新)", "", "", ""])]);
    });
})();
