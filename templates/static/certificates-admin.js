/* Bulk certificate issue: follow the job's progress (the page works without this: it has
   a "Refresh" link). Polls the job's small JSON status every 2 seconds and reloads the
   page once the job has finished or stopped, to show the download or the "continue"
   button. */
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box || box.getAttribute("data-finished") === "true" || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-bar");
  var part = function (name) { return box.querySelector('[data-job="' + name + '"]'); };
  var failures = 0;

  function show(state) {
    bar.max = Math.max(state.total, 1);
    bar.value = state.processed;
    bar.textContent = state.percent + " %";
    part("percent").textContent = state.percent + " %";
    part("label").textContent = state.label;
    part("summary").textContent = state.summary;
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        show(state);
        if (state.finished || state.stale) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        failures += 1;  // the server may be restarting: keep trying, more slowly
        window.setTimeout(poll, Math.min(30000, 2000 * (failures + 1)));
      });
  }

  window.setTimeout(poll, 2000);
}());
