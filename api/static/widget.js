/*
 * Government work report Q&A — embeddable chat widget.
 *
 *   <script src="https://host/widget.js" data-api="https://host"></script>
 *
 * Optional attributes: data-lang="zh|en" (else <html lang>, else the question's script),
 * data-key="..." (a *public* read key, only if the server requires keys for reads),
 * data-title="...". Elements with data-govreport-ask="question" ask that question when clicked.
 *
 * No dependencies, no build step. Everything lives in a shadow root; all text is rendered with
 * DOM nodes and textContent, never parsed as HTML, so answers and documents cannot inject markup.
 */
(function () {
  "use strict";

  var TAG = "govreport-chat";
  if (window.customElements.get(TAG)) return; // the script was included twice

  var script = document.currentScript;
  var scriptOrigin = location.origin;
  try {
    if (script && script.src) scriptOrigin = new URL(script.src, location.href).origin;
  } catch (e) {
    /* keep the page origin */
  }
  var data = (script && script.dataset) || {};
  var API = String(data.api || scriptOrigin).replace(/\/+$/, "");
  var KEY = data.key || "";
  var STORE_KEY = "govreport-chat:v1:" + API;
  var MAX_STORED = 40;
  var MAX_HISTORY = 6;

  var STRINGS = {
    zh: {
      title: "政府工作报告问答",
      subtitle: "答案引用报告原文",
      open: "打开政府工作报告问答",
      close: "关闭问答窗口",
      clear: "开始新对话",
      placeholder: "请输入你的问题…",
      label: "你的问题",
      send: "发送",
      thinking: "正在检索报告…",
      refused: "报告中没有找到答案",
      sources: "来源",
      source: "来源",
      back: "返回回答",
      loadingDoc: "正在载入原文…",
      docError: "无法载入原文,仅显示引文。",
      error: "出错了:",
      network: "无法连接到问答服务。",
      welcome: "你好!我可以回答有关已收录的政府工作报告的问题,并给出原文出处。点击 [1] 等编号可查看引文所在段落。",
      section: "章节",
      year: "年",
      hint: "Enter 发送 · Shift+Enter 换行 · Esc 关闭",
    },
    en: {
      title: "Government report Q&A",
      subtitle: "Answers quote the reports",
      open: "Open the government report Q&A",
      close: "Close the Q&A panel",
      clear: "Start a new conversation",
      placeholder: "Ask about the reports…",
      label: "Your question",
      send: "Send",
      thinking: "Searching the reports…",
      refused: "Not found in the reports",
      sources: "Sources",
      source: "Source",
      back: "Back to the answer",
      loadingDoc: "Loading the document…",
      docError: "Could not load the document; showing the quote only.",
      error: "Error: ",
      network: "Could not reach the Q&A service.",
      welcome:
        "Hello! Ask me about the indexed government work reports; every answer cites the report sentences. Click a number such as [1] to see the quoted paragraph.",
      section: "Section",
      year: "",
      hint: "Enter to send · Shift+Enter for a new line · Esc to close",
    },
  };

  var CSS = [
    ":host{all:initial;}",
    "*{box-sizing:border-box;}",
    ".root{font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif;font-size:15px;line-height:1.55;color:#1d1d1f;}",
    "[hidden]{display:none !important;}",
    ".sr-only{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0;}",
    "button{font:inherit;color:inherit;cursor:pointer;}",
    "button:focus-visible,textarea:focus-visible{outline:3px solid #f5b400;outline-offset:2px;}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;border:none;background:#a4262c;color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s;}",
    ".launcher:hover{transform:scale(1.06);}",
    ".launcher svg{width:28px;height:28px;fill:currentColor;}",
    ".panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:400px;height:min(640px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;}",
    "header{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:#a4262c;color:#fff;}",
    "header .titles{flex:1;min-width:0;}",
    "header h2{margin:0;font-size:16px;font-weight:600;}",
    "header p{margin:0;font-size:12px;opacity:.85;}",
    ".icon{width:34px;height:34px;border:none;border-radius:8px;background:transparent;color:#fff;font-size:20px;line-height:1;display:flex;align-items:center;justify-content:center;}",
    ".icon:hover{background:rgba(255,255,255,.18);}",
    ".body{position:relative;flex:1;min-height:0;display:flex;flex-direction:column;}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f6f7;}",
    ".msg{display:flex;}",
    ".msg.user{justify-content:flex-end;}",
    ".bubble{max-width:88%;padding:9px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;}",
    ".user .bubble{background:#a4262c;color:#fff;border-bottom-right-radius:4px;}",
    ".bot .bubble{background:#fff;border:1px solid #e3e3e6;border-bottom-left-radius:4px;}",
    ".bot.welcome .bubble{background:#fdf3f3;border-color:#f0d6d7;color:#5b1f22;}",
    ".bot.refused .bubble{background:#fff8e6;border:1px dashed #d08c00;color:#5c4300;}",
    ".refused-label{display:flex;align-items:center;gap:6px;font-size:12px;font-weight:600;color:#8a5d00;margin-bottom:4px;text-transform:none;}",
    ".bot.error .bubble{background:#fdecec;border:1px solid #e5a3a3;color:#8b1c1c;}",
    ".chip{display:inline-flex;align-items:center;justify-content:center;min-width:22px;height:20px;padding:0 5px;margin:0 2px;border-radius:10px;border:1px solid #a4262c;background:#fff0f0;color:#a4262c;font-size:12px;font-weight:600;vertical-align:1px;line-height:1;}",
    ".chip:hover,.chip[aria-expanded=true]{background:#a4262c;color:#fff;}",
    ".sources{margin:8px 0 0;padding:8px 0 0;border-top:1px solid #eee;list-style:none;font-size:13px;color:#555;white-space:normal;}",
    ".sources li{display:flex;gap:6px;align-items:baseline;margin:3px 0;}",
    ".sources .where{flex:1;min-width:0;}",
    ".cursor{display:inline-block;width:7px;height:1em;margin-left:2px;background:#a4262c;vertical-align:-2px;animation:blink 1s steps(2) infinite;}",
    ".dots span{display:inline-block;width:6px;height:6px;margin-right:4px;border-radius:50%;background:#a4262c;animation:bounce 1.2s infinite;}",
    ".dots span:nth-child(2){animation-delay:.15s;}.dots span:nth-child(3){animation-delay:.3s;}",
    "@keyframes blink{to{visibility:hidden;}}",
    "@keyframes bounce{0%,80%,100%{opacity:.25;}40%{opacity:1;}}",
    ".composer{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e3e6;background:#fff;}",
    "textarea{flex:1;resize:none;min-height:42px;max-height:120px;padding:10px 12px;border:1px solid #c9c9cf;border-radius:10px;font:inherit;color:inherit;background:#fff;}",
    ".send{border:none;border-radius:10px;background:#a4262c;color:#fff;padding:0 16px;font-weight:600;}",
    ".send:disabled{background:#c9a3a5;cursor:progress;}",
    ".hint{margin:0;padding:0 12px 8px;font-size:11px;color:#888;background:#fff;}",
    ".source{position:absolute;inset:0;display:flex;flex-direction:column;background:#fff;}",
    ".source .bar{display:flex;align-items:center;padding:8px;border-bottom:1px solid #eee;}",
    ".back{border:none;background:transparent;color:#a4262c;font-weight:600;padding:6px 8px;border-radius:8px;}",
    ".back:hover{background:#fdf0f0;}",
    ".source .content{flex:1;overflow-y:auto;padding:14px 16px;}",
    ".source h3{margin:0 0 4px;font-size:16px;}",
    ".source .meta{margin:0 0 12px;font-size:13px;color:#666;}",
    ".para{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.75;}",
    "mark{background:#ffe58a;color:inherit;padding:1px 0;border-radius:2px;box-shadow:0 0 0 2px #ffe58a;}",
    ".note{font-size:13px;color:#8a5d00;}",
    "@media (max-width:480px){.panel{inset:0;right:0;bottom:0;width:100%;height:100%;border-radius:0;}.launcher.open{display:none;}}",
    "@media (prefers-reduced-motion:reduce){.cursor,.dots span{animation:none;}.launcher{transition:none;}}",
  ].join("\n");

  /** Build an element: h("button", {class: "x", "aria-label": "y"}, ["text", childNode]). */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") el.textContent = String(value);
        else el.setAttribute(name, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function chatIcon() {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(NS, "path");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"
    );
    svg.appendChild(path);
    return svg;
  }

  function scriptLang(text) {
    return /[\u3400-\u9fff]/.test(text || "") ? "zh" : "en";
  }

  function pageLang() {
    var l = String(data.lang || document.documentElement.lang || "").toLowerCase();
    if (l.indexOf("zh") === 0) return "zh";
    if (l.indexOf("en") === 0) return "en";
    return null;
  }

  function ApiError(message, status) {
    this.message = message;
    this.status = status;
  }

  function headers(json) {
    var out = {};
    if (json) out["Content-Type"] = "application/json";
    if (KEY) out.Authorization = "Bearer " + KEY;
    return out;
  }

  async function problemOf(resp) {
    var detail = resp.status + " " + (resp.statusText || "");
    try {
      var body = await resp.json();
      if (body && body.detail) detail = String(body.detail);
    } catch (e) {
      /* not JSON */
    }
    return new ApiError(detail, resp.status);
  }

  /** Split an SSE block into {event, data}. */
  function parseEvent(block) {
    var event = "message";
    var lines = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
    });
    return { event: event, data: lines.join("\n") };
  }

  /** The paragraph around text[start:end], with the quote separated out for <mark>. */
  function paragraphAround(text, start, end, quote) {
    if (typeof text !== "string") return null;
    if (text.slice(start, end) !== quote) {
      var found = quote ? text.indexOf(quote) : -1;
      if (found < 0) return null;
      start = found;
      end = found + quote.length;
    }
    var ps = text.lastIndexOf("\n", start - 1) + 1;
    var pe = text.indexOf("\n", end);
    if (pe < 0) pe = text.length;
    var pre = "";
    var post = "";
    if (start - ps > 500) {
      ps = start - 500;
      pre = "…";
    }
    if (pe - end > 500) {
      pe = end + 500;
      post = "…";
    }
    return { before: pre + text.slice(ps, start), quote: text.slice(start, end), after: text.slice(end, pe) + post };
  }

  class GovReportChat extends HTMLElement {
    constructor() {
      super();
      this.messages = [];
      this.isOpen = false;
      this.busy = false;
      this.lastQuestionLang = null;
      this.docCache = new Map();
      this.sourceChip = null;
      this.root = this.attachShadow({ mode: "open" });
    }

    connectedCallback() {
      if (this.built) return;
      this.built = true;
      this.build();
      this.restore();
      this.applyStrings();
      var self = this;
      this.uiLangObserver = new MutationObserver(function () {
        self.applyStrings();
      });
      this.uiLangObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    }

    get uiLang() {
      var nav = String(navigator.language || "").toLowerCase();
      return pageLang() || this.lastQuestionLang || (nav.indexOf("zh") === 0 ? "zh" : "en");
    }

    t(key, lang) {
      return STRINGS[lang || this.uiLang][key];
    }

    build() {
      var self = this;
      this.root.appendChild(h("style", { text: CSS }));
      var wrap = h("div", { class: "root" });

      this.launcher = h("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "panel" }, [
        chatIcon(),
      ]);
      this.launcher.addEventListener("click", function () {
        self.toggle();
      });

      this.titleEl = h("h2", { id: "title" });
      this.subtitleEl = h("p");
      this.clearBtn = h("button", { class: "icon", type: "button", text: "⟲" });
      this.clearBtn.addEventListener("click", function () {
        self.clear();
      });
      this.closeBtn = h("button", { class: "icon", type: "button", text: "×" });
      this.closeBtn.addEventListener("click", function () {
        self.close();
      });
      var header = h("header", null, [
        h("div", { class: "titles" }, [this.titleEl, this.subtitleEl]),
        this.clearBtn,
        this.closeBtn,
      ]);

      this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions text" });

      this.input = h("textarea", { id: "q", rows: "1", maxlength: "1000", autocomplete: "off" });
      this.inputLabel = h("label", { class: "sr-only", for: "q" });
      this.sendBtn = h("button", { class: "send", type: "submit" });
      this.form = h("form", { class: "composer" }, [this.inputLabel, this.input, this.sendBtn]);
      this.form.addEventListener("submit", function (e) {
        e.preventDefault();
        self.submit();
      });
      this.input.addEventListener("keydown", function (e) {
        // isComposing: Enter that confirms an IME candidate (Chinese input) must not send.
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
          e.preventDefault();
          self.submit();
        }
      });
      this.input.addEventListener("input", function () {
        self.input.style.height = "auto";
        self.input.style.height = Math.min(self.input.scrollHeight + 2, 120) + "px";
      });
      this.hintEl = h("p", { class: "hint" });

      this.backBtn = h("button", { class: "back", type: "button" });
      this.backBtn.addEventListener("click", function () {
        self.closeSource();
      });
      this.sourceContent = h("div", { class: "content" });
      this.sourceView = h("div", { class: "source", role: "region", "aria-labelledby": "source-title", hidden: true }, [
        h("div", { class: "bar" }, [this.backBtn]),
        this.sourceContent,
      ]);

      this.panel = h(
        "section",
        { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "title", hidden: true },
        [header, h("div", { class: "body" }, [this.log, this.sourceView]), this.form, this.hintEl]
      );
      wrap.appendChild(this.launcher);
      wrap.appendChild(this.panel);
      this.root.appendChild(wrap);

      this.root.addEventListener("keydown", function (e) {
        if (e.key !== "Escape") return;
        if (!self.sourceView.hidden) {
          e.preventDefault();
          self.closeSource();
        } else if (self.isOpen) {
          e.preventDefault();
          self.close();
        }
      });
    }

    applyStrings() {
      var s = STRINGS[this.uiLang];
      this.titleEl.textContent = data.title || s.title;
      this.subtitleEl.textContent = s.subtitle;
      this.launcher.setAttribute("aria-label", this.isOpen ? s.close : s.open);
      this.launcher.title = s.open;
      this.clearBtn.setAttribute("aria-label", s.clear);
      this.clearBtn.title = s.clear;
      this.closeBtn.setAttribute("aria-label", s.close);
      this.closeBtn.title = s.close;
      this.input.placeholder = s.placeholder;
      this.inputLabel.textContent = s.label;
      this.sendBtn.textContent = s.send;
      this.hintEl.textContent = s.hint;
      this.backBtn.textContent = "← " + s.back;
      this.panel.setAttribute("lang", this.uiLang === "zh" ? "zh-CN" : "en");
      if (!this.busy) this.render();
    }

    // ------------------------------------------------------------------ open / close
    open() {
      if (this.isOpen) return;
      this.isOpen = true;
      this.panel.hidden = false;
      this.launcher.classList.add("open");
      this.launcher.setAttribute("aria-expanded", "true");
      this.launcher.setAttribute("aria-label", this.t("close"));
      this.scrollToEnd();
      this.input.focus();
      this.save();
    }

    close() {
      if (!this.isOpen) return;
      this.isOpen = false;
      this.closeSource(true);
      this.panel.hidden = true;
      this.launcher.classList.remove("open");
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.setAttribute("aria-label", this.t("open"));
      this.launcher.focus();
      this.save();
    }

    toggle() {
      if (this.isOpen) this.close();
      else this.open();
    }

    clear() {
      if (this.busy) return;
      this.messages = [];
      this.closeSource(true);
      this.save();
      this.render();
      this.input.focus();
    }

    // ------------------------------------------------------------------ persistence
    save() {
      try {
        var kept = this.messages.slice(-MAX_STORED);
        sessionStorage.setItem(STORE_KEY, JSON.stringify({ v: 1, open: this.isOpen, messages: kept }));
      } catch (e) {
        /* storage full or disabled: the conversation just won't survive a reload */
      }
    }

    restore() {
      var state = null;
      try {
        state = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      } catch (e) {
        state = null;
      }
      if (!state || state.v !== 1 || !Array.isArray(state.messages)) return;
      this.messages = state.messages.filter(function (m) {
        return m && (m.role === "user" || m.role === "bot" || m.role === "error");
      });
      var lastUser = this.messages.filter(function (m) {
        return m.role === "user";
      }).pop();
      if (lastUser) this.lastQuestionLang = scriptLang(lastUser.text);
      if (state.open) {
        this.isOpen = true;
        this.panel.hidden = false;
        this.launcher.classList.add("open");
        this.launcher.setAttribute("aria-expanded", "true");
      }
    }

    history() {
      var turns = [];
      for (var i = 0; i < this.messages.length; i++) {
        var m = this.messages[i];
        var next = this.messages[i + 1];
        if (m.role === "user" && next && next.role === "bot" && next.answer) {
          turns.push({ question: String(m.text), answer: String(next.answer.answer || "") });
        }
      }
      return turns.slice(-MAX_HISTORY);
    }

    // ------------------------------------------------------------------ asking
    submit() {
      var q = this.input.value.trim();
      if (!q || this.busy) return;
      this.input.value = "";
      this.input.style.height = "";
      this.ask(q);
    }

    async ask(question) {
      question = String(question || "").trim();
      if (!question || this.busy) return;
      this.open();
      this.closeSource(true);
      this.lastQuestionLang = scriptLang(question);
      if (!pageLang()) this.applyStrings();
      var history = this.history();
      this.messages.push({ role: "user", text: question });
      this.save();
      this.render();
      this.setBusy(true);

      var live = this.renderPending();
      var text = "";
      var answer = null;
      try {
        var resp = await fetch(API + "/v1/ask", {
          method: "POST",
          headers: headers(true),
          body: JSON.stringify({ question: question, history: history, stream: true }),
        });
        if (!resp.ok) throw await problemOf(resp);
        var type = resp.headers.get("content-type") || "";
        if (type.indexOf("text/event-stream") < 0 || !resp.body) {
          answer = await resp.json();
        } else {
          var reader = resp.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          var self = this;
          var handle = function (block) {
            var ev = parseEvent(block);
            if (!ev.data) return;
            var payload = JSON.parse(ev.data);
            if (ev.event === "token") {
              text += payload.text || "";
              live.update(text);
              self.scrollToEnd(true);
            } else if (ev.event === "answer") {
              answer = payload;
            } else if (ev.event === "error") {
              throw new ApiError(String(payload.detail || payload.title || "error"), payload.status);
            }
          };
          for (;;) {
            var chunk = await reader.read();
            if (chunk.done) break;
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
            var cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              var block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              handle(block);
            }
          }
          if (buffer.trim()) handle(buffer);
        }
        if (!answer || typeof answer.answer !== "string") throw new ApiError(this.t("network"), 0);
        this.messages.push({ role: "bot", answer: answer });
      } catch (err) {
        var detail = err instanceof ApiError ? err.message : this.t("network");
        this.messages.push({ role: "error", text: detail });
      } finally {
        this.setBusy(false);
        this.save();
        this.render();
        this.scrollToEnd();
        if (this.isOpen) this.input.focus();
      }
    }

    setBusy(busy) {
      this.busy = busy;
      this.sendBtn.disabled = busy;
      this.clearBtn.disabled = busy;
      this.log.setAttribute("aria-busy", busy ? "true" : "false");
    }

    // ------------------------------------------------------------------ rendering
    scrollToEnd(onlyIfNear) {
      var log = this.log;
      if (onlyIfNear && log.scrollHeight - log.scrollTop - log.clientHeight > 120) return;
      log.scrollTop = log.scrollHeight;
    }

    render() {
      var log = this.log;
      while (log.firstChild) log.removeChild(log.firstChild);
      log.appendChild(h("div", { class: "msg bot welcome" }, [h("div", { class: "bubble", text: this.t("welcome") })]));
      var self = this;
      this.messages.forEach(function (m, i) {
        if (m.role === "user") {
          log.appendChild(h("div", { class: "msg user" }, [h("div", { class: "bubble", text: m.text })]));
        } else if (m.role === "error") {
          var s = STRINGS[self.uiLang];
          log.appendChild(
            h("div", { class: "msg bot error", role: "alert" }, [h("div", { class: "bubble", text: s.error + m.text })])
          );
        } else if (m.answer) {
          log.appendChild(self.renderAnswer(m.answer, i));
        }
      });
      this.scrollToEnd();
    }

    renderPending() {
      var bubble = h("div", { class: "bubble" }, [
        h("span", { class: "dots", "aria-hidden": "true" }, [h("span"), h("span"), h("span")]),
        h("span", { class: "sr-only", text: this.t("thinking") }),
      ]);
      var msg = h("div", { class: "msg bot streaming" }, [bubble]);
      this.log.appendChild(msg);
      this.scrollToEnd();
      var textNode = null;
      return {
        update: function (text) {
          if (!textNode) {
            while (bubble.firstChild) bubble.removeChild(bubble.firstChild);
            textNode = document.createTextNode("");
            bubble.appendChild(textNode);
            bubble.appendChild(h("span", { class: "cursor", "aria-hidden": "true" }));
          }
          textNode.data = text;
        },
      };
    }

    renderAnswer(answer, index) {
      var self = this;
      var lang = answer.language === "zh" || answer.language === "en" ? answer.language : this.uiLang;
      var s = STRINGS[lang];
      var citations = Array.isArray(answer.citations) ? answer.citations : [];
      var byN = new Map();
      citations.forEach(function (c) {
        byN.set(Number(c.n), c);
      });
      var chip = function (c) {
        var label = s.source + " " + c.n + ": " + [c.title, c.region, c.year].filter(Boolean).join(" · ");
        var b = h("button", {
          class: "chip",
          type: "button",
          "aria-label": label,
          title: label,
          "aria-expanded": "false",
          "data-n": String(c.n),
          "data-msg": String(index),
          text: String(c.n),
        });
        b.addEventListener("click", function () {
          self.openSource(c, b);
        });
        return b;
      };

      var bubble = h("div", { class: "bubble" });
      if (answer.refused) {
        bubble.appendChild(h("div", { class: "refused-label" }, [h("span", { "aria-hidden": "true", text: "⚠" }), s.refused]));
      }
      var body = h("div", { class: "answer-text" });
      var text = String(answer.answer || answer.short_answer || "");
      var marker = /\[(\d+(?:\s*[,,、]\s*\d+)*)\]/g;
      var last = 0;
      var m;
      while ((m = marker.exec(text)) !== null) {
        var ns = m[1].split(/\s*[,,、]\s*/).map(Number);
        if (!ns.every(function (n) { return byN.has(n); })) continue;
        body.appendChild(document.createTextNode(text.slice(last, m.index)));
        ns.forEach(function (n) {
          body.appendChild(chip(byN.get(n)));
        });
        last = m.index + m[0].length;
      }
      body.appendChild(document.createTextNode(text.slice(last)));
      bubble.appendChild(body);

      if (citations.length) {
        var list = h("ol", { class: "sources", "aria-label": s.sources });
        citations.forEach(function (c) {
          var where = [c.title, c.region, c.year ? String(c.year) : null].filter(Boolean).join(" · ");
          list.appendChild(h("li", null, [chip(c), h("span", { class: "where", text: where })]));
        });
        bubble.appendChild(list);
      }
      return h("div", { class: "msg bot" + (answer.refused ? " refused" : ""), lang: lang === "zh" ? "zh-CN" : "en" }, [
        bubble,
      ]);
    }

    // ------------------------------------------------------------------ sources
    fetchDocument(docId) {
      if (!this.docCache.has(docId)) {
        var p = fetch(API + "/v1/documents/" + encodeURIComponent(docId), { headers: headers(false) }).then(
          async function (resp) {
            if (!resp.ok) throw await problemOf(resp);
            return resp.json();
          }
        );
        var cache = this.docCache;
        p.catch(function () {
          cache.delete(docId);
        });
        this.docCache.set(docId, p);
      }
      return this.docCache.get(docId);
    }

    async openSource(c, chipEl) {
      var s = STRINGS[this.uiLang];
      if (this.sourceChip) this.sourceChip.setAttribute("aria-expanded", "false");
      this.sourceChip = chipEl;
      chipEl.setAttribute("aria-expanded", "true");
      var content = this.sourceContent;
      while (content.firstChild) content.removeChild(content.firstChild);
      content.appendChild(h("h3", { id: "source-title", text: s.source + " [" + c.n + "] " + (c.title || c.doc_id) }));
      var meta = [c.region, c.year ? String(c.year) + s.year : null, c.section ? s.section + ": " + c.section : null]
        .filter(Boolean)
        .join(" · ");
      content.appendChild(h("p", { class: "meta", text: meta }));
      var para = h("p", { class: "para", text: s.loadingDoc });
      content.appendChild(para);
      this.sourceView.hidden = false;
      this.backBtn.focus();

      var parts = null;
      try {
        var doc = await this.fetchDocument(c.doc_id);
        parts = paragraphAround(doc.text, Number(c.start), Number(c.end), String(c.quote || ""));
      } catch (e) {
        parts = null;
      }
      if (this.sourceChip !== chipEl) return; // another source was opened meanwhile
      while (para.firstChild) para.removeChild(para.firstChild);
      if (!parts) {
        parts = { before: "", quote: String(c.quote || ""), after: "" };
        content.insertBefore(h("p", { class: "note", text: s.docError }), para);
      }
      para.appendChild(document.createTextNode(parts.before));
      var mark = h("mark", { text: parts.quote });
      para.appendChild(mark);
      para.appendChild(document.createTextNode(parts.after));
      if (mark.scrollIntoView) mark.scrollIntoView({ block: "center" });
    }

    closeSource(silent) {
      if (this.sourceView.hidden) return;
      this.sourceView.hidden = true;
      var chipEl = this.sourceChip;
      this.sourceChip = null;
      if (chipEl) {
        chipEl.setAttribute("aria-expanded", "false");
        if (!silent) chipEl.focus();
      }
    }
  }

  window.customElements.define(TAG, GovReportChat);

  function widget() {
    var el = document.querySelector(TAG);
    if (!el) {
      el = document.createElement(TAG);
      document.body.appendChild(el);
    }
    return el;
  }

  function init() {
    widget();
    document.addEventListener("click", function (e) {
      var target = e.target && e.target.closest ? e.target.closest("[data-govreport-ask]") : null;
      if (!target) return;
      e.preventDefault();
      widget().ask(target.getAttribute("data-govreport-ask") || target.textContent || "");
    });
  }

  window.GovReportChat = {
    open: function () {
      widget().open();
    },
    close: function () {
      widget().close();
    },
    ask: function (question) {
      return widget().ask(question);
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
