// The quiz attempt page, enhanced: every answer is saved in the background as it is given
// (retried until the server has it, also after the connection comes back), the countdown
// follows the server's deadline and submits when the time is up, ordering questions get
// "move up/down" buttons, and lost focus or pasted text is reported to the server as a
// flag for the trainer (never a penalty, never blocking).
//
// Without JavaScript the same form works on its own: "Next", "Save" and "Finish attempt…"
// post the answers of the page, and the time left is printed on the page.
// Nothing here knows, or could know, the key: values are display positions.
(function () {
  "use strict";

  var form = document.getElementById("attempt-form");
  if (!form) return;

  var csrfInput = form.querySelector("input[name=csrf_token]");
  var csrf = csrfInput ? csrfInput.value : "";
  var statusEl = document.getElementById("quiz-save-status");
  var TEXT_DEBOUNCE_MS = 700;
  var CHOICE_DEBOUNCE_MS = 150;
  var BLUR_THROTTLE_MS = 5000;

  var pending = {};        // position -> the latest value not yet acknowledged by the server
  var timers = {};         // position -> debounce timer
  var inFlight = false;
  var retryDelay = 0;
  var retryTimer = null;
  var closed = false;      // the server refused an answer: submitted or out of time
  var submitting = false;  // the form itself is being posted (it carries every answer)
  var currentPosition = null;

  function text(key) {
    return form.getAttribute("data-text-" + key) || "";
  }

  // ------------------------------------------------------------ status line

  function setStatus(message, kind) {
    if (!statusEl) return;
    statusEl.textContent = message;
    statusEl.classList.toggle("save-status--ok", kind === "ok");
    statusEl.classList.toggle("save-status--problem", kind === "problem");
  }

  var announcer = document.createElement("p");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  form.appendChild(announcer);

  function announce(message) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = message; }, 50);
  }

  // ------------------------------------------------------------ reading an answer

  function sectionOf(element) {
    return element && element.closest ? element.closest(".question[data-position]") : null;
  }

  function valueOf(section) {
    var name = "q" + section.getAttribute("data-position");
    var kind = section.getAttribute("data-kind");
    var checked;
    if (kind === "single" || kind === "truefalse") {
      checked = section.querySelector("input[name='" + name + "']:checked");
      return checked ? checked.value : null;
    }
    if (kind === "multiple") {
      return Array.prototype.map.call(
        section.querySelectorAll("input[name='" + name + "']:checked"),
        function (input) { return input.value; });
    }
    if (kind === "shortanswer" || kind === "numeric") {
      var input = section.querySelector("input[name='" + name + "']");
      return input ? input.value : "";
    }
    if (kind === "matching") {
      var chosen = {};
      section.querySelectorAll("select").forEach(function (select) {
        if (select.value !== "") chosen[select.name.slice(name.length + 1)] = select.value;
      });
      return chosen;
    }
    if (kind === "ordering") {
      return Array.prototype.map.call(section.querySelectorAll(".ordering__item"),
        function (item) { return item.getAttribute("data-item"); });
    }
    return null;
  }

  function isAnswered(value) {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.length > 0;
    if (typeof value === "object") return Object.keys(value).length > 0;
    return String(value).trim() !== "";
  }

  function markNav(position, answered) {
    document.querySelectorAll("[data-qnav='" + position + "']").forEach(function (item) {
      item.classList.toggle("qnav--answered", answered);
      var label = item.getAttribute(answered ? "data-label-yes" : "data-label-no");
      if (label) item.setAttribute("aria-label", label);
    });
  }

  // ------------------------------------------------------------ saving

  function post(url, body, keepalive) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    });
  }

  function hasPending() {
    return Object.keys(pending).length > 0;
  }

  function queue(section, delay) {
    if (closed) return;
    var position = section.getAttribute("data-position");
    var value = valueOf(section);
    markNav(position, isAnswered(value));
    window.clearTimeout(timers[position]);
    timers[position] = window.setTimeout(function () {
      delete timers[position];
      pending[position] = valueOf(section);
      flush();
    }, delay);
  }

  function scheduleRetry() {
    retryDelay = retryDelay ? Math.min(30000, retryDelay * 2) : 2000;
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(flush, retryDelay);
  }

  function flush() {
    if (inFlight || closed || !hasPending()) return;
    window.clearTimeout(retryTimer);
    var position = Object.keys(pending)[0];
    var value = pending[position];
    delete pending[position];
    inFlight = true;
    setStatus(text("saving"));
    var requeue = function () {
      if (!(position in pending)) pending[position] = value;  // unless a newer value waits
    };
    post(form.getAttribute("data-answer-url"), {position: Number(position), value: value})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          inFlight = false;
          if (response.ok) {
            retryDelay = 0;
            if (hasPending()) {
              flush();
            } else {
              setStatus(data.saved_at_text ? text("saved-at").replace("{time}", data.saved_at_text)
                                           : text("saved"), "ok");
            }
          } else if (response.status === 409) {
            closed = true;
            setStatus(data.error || text("closed"), "problem");
            window.setTimeout(function () {
              window.location.assign(data.result_url || form.getAttribute("data-result-url"));
            }, 2500);
          } else if (response.status >= 500 || response.status === 429) {
            requeue();
            setStatus(text("retrying"), "problem");
            scheduleRetry();
          } else {
            // Signed out, the page's token expired, or the attempt is not this person's:
            // retrying cannot help; the form's buttons still post everything on the page.
            requeue();
            setStatus(data.error || text("failed"), "problem");
          }
        });
      })
      .catch(function () {
        inFlight = false;
        requeue();
        setStatus(navigator.onLine === false ? text("offline") : text("retrying"), "problem");
        scheduleRetry();
      });
  }

  window.addEventListener("online", function () {
    retryDelay = 0;
    flush();
  });

  form.addEventListener("change", function (event) {
    var section = sectionOf(event.target);
    if (!section) return;
    if (event.target.classList.contains("ordering__rank")) {
      moveTo(event.target.closest(".ordering__item"), Number(event.target.value) - 1, false);
    }
    var typed = event.target.matches("input[type=text]");
    queue(section, typed ? 0 : CHOICE_DEBOUNCE_MS);
  });

  form.addEventListener("input", function (event) {
    if (!event.target.matches("input[type=text]")) return;
    var section = sectionOf(event.target);
    if (section) queue(section, TEXT_DEBOUNCE_MS);
  });

  form.addEventListener("focusin", function (event) {
    var section = sectionOf(event.target);
    if (section) currentPosition = Number(section.getAttribute("data-position"));
  });

  form.addEventListener("submit", function () {
    submitting = true;  // the posted form carries every answer of the page
  });

  window.addEventListener("beforeunload", function (event) {
    if (submitting || closed) return;
    if (inFlight || hasPending() || Object.keys(timers).length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // ------------------------------------------------------------ ordering: move up / down

  function renumber(list) {
    var items = list.querySelectorAll(".ordering__item");
    items.forEach(function (item, index) {
      var select = item.querySelector(".ordering__rank");
      if (select) select.value = String(index + 1);
      item.querySelectorAll(".ordering__move").forEach(function (button) {
        var edge = button.getAttribute("data-move") === "-1" ? index === 0 : index === items.length - 1;
        button.setAttribute("aria-disabled", edge ? "true" : "false");
      });
    });
  }

  function moveTo(item, index, focusButton) {
    var list = item.parentElement;
    var items = Array.prototype.slice.call(list.querySelectorAll(".ordering__item"));
    index = Math.max(0, Math.min(items.length - 1, index));
    var from = items.indexOf(item);
    if (from !== index) {
      items.splice(from, 1);
      items.splice(index, 0, item);
      items.forEach(function (each) { list.appendChild(each); });
    }
    renumber(list);
    if (focusButton) focusButton.focus();
    announce(text("moved").replace("{num}", String(index + 1)));
  }

  document.querySelectorAll(".ordering__list").forEach(function (list) {
    list.querySelectorAll(".ordering__item").forEach(function (item) {
      var label = item.querySelector(".ordering__label [lang]") || item.querySelector(".ordering__label");
      var itemText = label ? label.textContent.trim() : "";
      var box = document.createElement("span");
      box.className = "ordering__buttons";
      [["-1", "↑", "move-up"], ["1", "↓", "move-down"]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "ordering__move";
        button.setAttribute("data-move", spec[0]);
        button.setAttribute("aria-label", text(spec[2]) + ": " + itemText);
        button.textContent = spec[1];
        button.addEventListener("click", function () {
          if (button.getAttribute("aria-disabled") === "true") return;
          var items = Array.prototype.slice.call(list.querySelectorAll(".ordering__item"));
          moveTo(item, items.indexOf(item) + Number(spec[0]), button);
          queue(sectionOf(list), CHOICE_DEBOUNCE_MS);
        });
        box.appendChild(button);
      });
      item.appendChild(box);
    });
    renumber(list);
  });

  // ------------------------------------------------------------ integrity signals

  var lastBlur = 0;

  function signal(kind, position) {
    if (closed) return;
    post(form.getAttribute("data-signal-url"), {kind: kind, position: position}, true)
      .catch(function () { /* a signal is never worth bothering the learner */ });
  }

  function lostFocus() {
    var now = Date.now();
    if (submitting || now - lastBlur < BLUR_THROTTLE_MS) return;
    lastBlur = now;
    signal("blur", currentPosition);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") lostFocus();
  });
  window.addEventListener("blur", lostFocus);

  form.addEventListener("paste", function (event) {
    var section = sectionOf(event.target);
    if (section && event.target.matches("input[type=text]")) {
      signal("paste", Number(section.getAttribute("data-position")));
    }
  });

  // ------------------------------------------------------------ the countdown

  var timer = document.getElementById("quiz-timer");
  if (timer) {
    var valueEl = document.getElementById("quiz-timer-value");
    var timerAnnounce = document.getElementById("quiz-timer-announce");
    var endsAt = Date.now() + Number(timer.getAttribute("data-seconds-left")) * 1000;
    var warned = {};
    var ticker = null;

    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var show = function (seconds) {
      var h = Math.floor(seconds / 3600);
      var m = Math.floor((seconds % 3600) / 60);
      var s = seconds % 60;
      valueEl.textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
      timer.classList.toggle("timer--low", seconds <= 60);
    };
    var warn = function (seconds) {
      var at = [[300, text("minutes-left").replace("{num}", "5")], [60, text("one-minute-left")]];
      at.forEach(function (entry) {
        if (seconds <= entry[0] && seconds > entry[0] - 30 && !warned[entry[0]] && timerAnnounce) {
          warned[entry[0]] = true;
          timerAnnounce.textContent = entry[1];
        }
      });
    };
    var timeUp = function () {
      window.clearInterval(ticker);
      setStatus(text("time-up"), "problem");
      // Send what is still waiting (the server takes answers a few seconds past the
      // deadline), then submit; never wait for ever.
      Object.keys(timers).forEach(function (position) {
        window.clearTimeout(timers[position]);
        delete timers[position];
        var section = document.querySelector(".question[data-position='" + position + "']");
        if (section) pending[position] = valueOf(section);
      });
      retryDelay = 0;
      flush();
      var waited = 0;
      var wait = window.setInterval(function () {
        waited += 200;
        if (closed || waited >= 6000 || (!inFlight && !hasPending())) {
          window.clearInterval(wait);
          var timeUpForm = document.getElementById("time-up-form");
          submitting = true;
          if (timeUpForm) timeUpForm.submit();
        }
      }, 200);
    };
    var tick = function () {
      var seconds = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
      show(seconds);
      warn(seconds);
      if (seconds <= 0) timeUp();
    };
    tick();
    if (Date.now() < endsAt) ticker = window.setInterval(tick, 1000);
  }
})();
