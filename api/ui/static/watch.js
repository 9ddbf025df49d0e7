// The run page of a running build: polls GET /runs/{id} (the session cookie authenticates it) and shows
// the status; once it is no longer `running`, reloads the page, which then shows the nodes and the log.
(function () {
  "use strict";
  var status = document.getElementById("run-status");
  if (!status || status.dataset.status !== "running") {
    return;
  }
  var url = status.dataset.poll;
  var delay = 1000;

  function show(text) {
    status.textContent = text;
    status.dataset.status = text;
    status.className = "status " + text;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 503) {  // the warehouse is being written: ask again
          return null;
        }
        if (!response.ok) {
          throw new Error("GET " + url + " answered " + response.status);
        }
        return response.json();
      })
      .then(function (run) {
        if (run && run.status !== "running") {
          show(run.status);
          window.location.reload();
          return;
        }
        window.setTimeout(poll, delay);
      })
      .catch(function (error) {
        var note = document.getElementById("watching");
        if (note) {
          note.textContent = "Could not follow the run: " + error.message + ". Reload the page to try again.";
        }
      });
  }

  window.setTimeout(poll, delay);
})();
