/* coalwatch pages: live events, the alarm bell and its sound, full screen, charts.
 * No inline scripts (the Content-Security-Policy forbids them): everything hangs off
 * data- attributes and htmx events. */
(function () {
  "use strict";

  var body = document.body;
  var MUTE_KEY = "coalwatch.mutedUpTo";

  /* ---- clock in the deployment's time zone ---- */
  function startClock() {
    var clock = document.getElementById("clock");
    if (!clock || !window.Intl) return;
    var format;
    try {
      format = new Intl.DateTimeFormat(body.dataset.lang || "zh-CN", {
        timeZone: body.dataset.tz || undefined,
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
      });
    } catch (e) {
      return;
    }
    function tick() { clock.textContent = format.format(new Date()); }
    tick();
    window.setInterval(tick, 1000);
  }

  /* ---- live events: the server's event stream becomes htmx triggers on <body> ---- */
  var source = null;
  // The parts of a page that redraw on these events do so at most once a window: the
  // first event at once, and the last of those that came during the window at its end.
  // (htmx's own throttle drops those: a second alarm raised within the second would wait
  // for the minute's poll.)
  var WINDOW_MS = { "cw:figures": 2000, "cw:alarm": 1000 };
  var windows = {};
  function dispatch(name, detail) {
    var ms = WINDOW_MS[name];
    var open = windows[name];
    if (ms && open) {
      open.waiting = true;
      open.detail = detail;
      return;
    }
    body.dispatchEvent(new CustomEvent(name, { detail: detail }));
    if (!ms) return;
    open = windows[name] = { waiting: false, detail: null };
    window.setTimeout(function () {
      delete windows[name];
      if (open.waiting) dispatch(name, open.detail);
    }, ms);
  }
  function liveState(ok) {
    body.dataset.stream = ok ? "open" : "down";
    document.querySelectorAll(".live-dot").forEach(function (dot) {
      dot.classList.toggle("is-offline", !ok);
    });
  }
  function startEvents() {
    if (!body.dataset.live || !window.EventSource) return;
    source = new EventSource("/api/v1/events");
    source.onopen = function () { liveState(true); };
    source.onerror = function () { liveState(false); };
    source.addEventListener("figures", function (event) {
      dispatch("cw:figures", safeParse(event.data));
    });
    source.addEventListener("alarm", function (event) {
      var data = safeParse(event.data);
      if (data && data.transition === "raised") unmuteFor(data.id);
      dispatch("cw:alarm", data);
    });
    source.addEventListener("fault", function (event) {
      dispatch("cw:fault", safeParse(event.data));
    });
    window.addEventListener("pagehide", function () { if (source) source.close(); });
  }
  function safeParse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  /* ---- the alarm bell: blinks and sounds while alarms wait for acknowledgement ---- */
  var audio = null;
  var ringTimer = null;
  function ensureAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume().catch(function () {});
    return audio;
  }
  function tone(frequency, start, length) {
    var oscillator = audio.createOscillator();
    var gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + length + 0.02);
  }
  function beep() {
    if (!audio || audio.state !== "running") return;
    var now = audio.currentTime;
    tone(880, now, 0.18);
    tone(660, now + 0.22, 0.18);
  }
  function mutedUpTo() {
    return Number(window.sessionStorage.getItem(MUTE_KEY) || 0);
  }
  function unmuteFor(alarmId) {
    if (alarmId && Number(alarmId) > mutedUpTo()) window.sessionStorage.removeItem(MUTE_KEY);
  }
  function bellState() {
    var bell = document.getElementById("bell");
    var count = bell ? Number(bell.dataset.count || 0) : 0;
    var newest = bell ? Number(bell.dataset.newest || 0) : 0;
    var muted = mutedUpTo() > 0 && mutedUpTo() >= newest;
    return { count: count, newest: newest, muted: muted };
  }
  function updateBell() {
    var state = bellState();
    var ringing = state.count > 0 && !state.muted;
    if (ringing && !ringTimer) {
      beep();
      ringTimer = window.setInterval(beep, 2000);
    } else if (!ringing && ringTimer) {
      window.clearInterval(ringTimer);
      ringTimer = null;
    }
    var mute = document.getElementById("mute");
    if (mute) {
      mute.classList.toggle("is-muted", state.muted);
      mute.textContent = state.muted ? mute.dataset.off : mute.dataset.on;
    }
    body.classList.toggle("has-unacked", state.count > 0);
  }
  function toggleMute() {
    ensureAudio();
    var state = bellState();
    if (state.muted) window.sessionStorage.removeItem(MUTE_KEY);
    else window.sessionStorage.setItem(MUTE_KEY, String(Math.max(state.newest, 1)));
    updateBell();
  }

  /* ---- full screen for the control-room wall ---- */
  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(function () {});
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(function () {});
    }
  }

  /* ---- charts (ECharts): data-series = {x, series: [{name, type, data, axis, percent}], axes} ---- */
  var COLORS = ["#3273dc", "#00a66e", "#f29d38", "#8e44ad", "#e74c3c"];
  function ratioColor(value) {
    if (value === null || value === undefined) return "#9aa5b1";
    if (value > 100) return "#e03131";
    if (value >= 90) return "#f59f00";
    return "#2f9e44";
  }
  function renderCharts(root) {
    if (!window.echarts || !root || !root.querySelectorAll) return;
    root.querySelectorAll(".chart[data-series]").forEach(function (element) {
      var spec = safeParse(element.dataset.series);
      if (!spec) return;
      var dark = element.closest(".wall-page") !== null;
      var old = window.echarts.getInstanceByDom(element);
      if (old) old.dispose();
      var chart = window.echarts.init(element, dark ? "dark" : null, { renderer: "canvas" });
      var axes = spec.axes || [{ name: spec.unit || "t" }];
      chart.setOption({
        backgroundColor: "transparent",
        animation: false,
        color: COLORS,
        textStyle: { fontFamily: "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif" },
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: spec.series.map(function (s) { return s.name; }) },
        // room on the right for a second axis or the 90 % / 100 % marks' labels
        grid: { left: 60, right: axes.length > 1 || spec.series.some(function (s) { return s.percent; }) ? 60 : 20, top: 36, bottom: 40 },
        xAxis: { type: "category", data: spec.x, axisLabel: { hideOverlap: true } },
        yAxis: axes.map(function (axis) {
          return { type: "value", name: axis.name, splitLine: { show: !axis.secondary } };
        }),
        series: spec.series.map(function (s) {
          var series = { name: s.name, type: s.type || "bar", yAxisIndex: s.axis || 0, data: s.data };
          if (s.type === "line") { series.smooth = false; series.symbol = "none"; series.connectNulls = true; }
          if (s.percent) {
            series.data = s.data.map(function (v) {
              return { value: v, itemStyle: { color: ratioColor(v) } };
            });
            series.markLine = { symbol: "none", silent: true, data: [{ yAxis: 100 }, { yAxis: 90 }],
              lineStyle: { type: "dashed", color: "#e03131" }, label: { formatter: "{c}%" } };
            series.label = { show: true, position: "top", formatter: function (p) {
              return p.value === null || p.value === undefined ? "" : p.value.toFixed(1) + "%";
            } };
          }
          return series;
        })
      });
    });
  }
  function resizeCharts() {
    if (!window.echarts) return;
    document.querySelectorAll(".chart[data-series]").forEach(function (element) {
      var chart = window.echarts.getInstanceByDom(element);
      if (chart) chart.resize();
    });
  }

  /* ---- wiring ---- */
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var confirmer = target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    var all = target.closest("[data-select-all]");
    if (all) {
      // a header checkbox ticks the boxes of its table's rows
      var table = all.closest("table");
      if (table) {
        table.querySelectorAll("input[type=checkbox][name=" + all.dataset.selectAll + "]")
          .forEach(function (box) { box.checked = all.checked; });
      }
    }
    if (target.closest("#mute")) toggleMute();
    if (target.closest("#fullscreen")) toggleFullscreen();
    if (target.closest("[data-print]")) window.print();
  }, true);
  document.addEventListener("pointerdown", ensureAudio);
  document.addEventListener("keydown", ensureAudio);

  /* ---- a refused form keeps what was typed ---- */
  // A form the center refuses comes back as its page with the reason on top (post,
  // redirect, get): what was typed is put back in the form it was typed in. Kept for
  // one page load in this tab only, never a password nor a file.
  var SENT = "coalwatch.sent-form";
  function typed(field) {
    var skip = ["password", "file", "hidden", "submit", "button", "reset"];
    return field.name && !field.disabled && skip.indexOf(field.type) < 0;
  }
  function valueOf(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked;
    if (field.multiple) {
      return Array.prototype.map.call(field.selectedOptions, function (o) { return o.value; });
    }
    return field.value;
  }
  function putBack(field, value) {
    if (field.type === "checkbox" || field.type === "radio") field.checked = value === true;
    else if (field.multiple) {
      Array.prototype.forEach.call(field.options, function (o) {
        o.selected = value.indexOf(o.value) >= 0;
      });
    } else field.value = value;
  }
  function keepSent(form) {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (typed(field)) fields.push([field.name, field.value, valueOf(field)]);
    });
    try {
      sessionStorage.setItem(SENT, JSON.stringify({
        action: form.getAttribute("action"), at: Date.now(), fields: fields
      }));
    } catch (e) { /* storage off: nothing is put back */ }
  }
  function restoreRefused() {
    var sent = null;
    try {
      sent = JSON.parse(sessionStorage.getItem(SENT) || "null");
      sessionStorage.removeItem(SENT);
    } catch (e) { return; }
    if (!sent || Date.now() - sent.at > 60000) return;
    if (!document.querySelector("#flash .notification.is-danger")) return;
    var form = Array.prototype.find.call(document.forms, function (f) {
      return f.getAttribute("action") === sent.action && f.method === "post";
    });
    if (!form) return;
    sent.fields.forEach(function (item) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!typed(field) || field.name !== item[0]) return;
        // a checkbox or radio is found by its value; another field by its name alone
        if ((field.type === "checkbox" || field.type === "radio") && field.value !== item[1]) return;
        putBack(field, item[2]);
      });
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.method === "post" && !form.hasAttribute("hx-post")) {
      keepSent(form);
    }
  });

  /* ---- the alarm console: a redraw of its table never undoes an operator ---- */
  // An alarm event redraws the table. A redraw asked before an acknowledgement or a
  // handling and answered after it would put the row back as it was (and leave the
  // action's answer nowhere to land): such a redraw is dropped, and one is asked afresh
  // once the operator's requests are answered.
  var actions = { running: 0, started: 0, missed: false };
  function isRedraw(detail) {
    return detail.elt && detail.elt.id === "alarm-rows";
  }
  function isRowAction(detail) {
    return detail.elt && detail.elt.closest && detail.elt.closest("#alarm-rows") !== null &&
      detail.requestConfig && detail.requestConfig.verb === "post";
  }
  function redrawAlarms() {
    var table = document.getElementById("alarm-rows");
    if (table && window.htmx) {
      window.htmx.ajax("GET", table.getAttribute("hx-get"), { source: table, target: table });
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail || {};
    if (isRowAction(detail)) {
      detail.xhr.coalwatchAction = true;  // its form may have left the page when it ends
      actions.running += 1;
      actions.started += 1;
      return;
    }
    if (!isRedraw(detail) || !detail.requestConfig || detail.requestConfig.verb !== "get") return;
    // never redraw the alarm table under an operator who is typing a result or
    // has ticked alarms to acknowledge
    var busy = Array.prototype.some.call(
      detail.elt.querySelectorAll(".handle-form input[name=result]"),
      function (input) { return input.value !== "" || input === document.activeElement; }
    ) || detail.elt.querySelector("input[type=checkbox]:checked") !== null;
    if (busy) {
      event.preventDefault();
      return;
    }
    detail.xhr.coalwatchActions = actions.started;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    if (isRedraw(detail) && (actions.running > 0 ||
        detail.xhr.coalwatchActions !== actions.started)) {
      detail.shouldSwap = false;
      actions.missed = true;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail || {};
    if (!detail.xhr || !detail.xhr.coalwatchAction) return;
    actions.running = Math.max(0, actions.running - 1);
    if (actions.running === 0 && actions.missed) {
      actions.missed = false;
      redrawAlarms();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    renderCharts(event.detail.target);
    updateBell();
  });
  window.addEventListener("resize", resizeCharts);

  window.coalwatch = {
    ringing: function () { return ringTimer !== null; },
    muted: function () { return bellState().muted; }
  };

  restoreRefused();
  startClock();
  startEvents();
  renderCharts(document);
  updateBell();
})();
