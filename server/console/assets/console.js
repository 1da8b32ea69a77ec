/*
 * Progressive enhancement for the Cartable console. Every page works without this file; with it:
 * - the error summary (or a result notice) takes the focus when a page opens, so it is read first;
 * - regions marked data-live refresh themselves every few seconds from the server (device
 *   presence, command states), pause while the tab is hidden, and say so when the connection
 *   drops, then carry on once it is back;
 * - a command that reaches a final state is announced in the page's status region;
 * - "print" buttons print, and data-follow links are followed at once.
 */
(function () {
  'use strict';

  function onReady(fn) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fn);
    else fn();
  }

  function finalStates(root) {
    var states = {};
    root.querySelectorAll('[data-command-id]').forEach(function (row) {
      states[row.getAttribute('data-command-id')] = row.getAttribute('data-final') === 'true';
    });
    return states;
  }

  function announce(region, text) {
    var status = document.getElementById(region.getAttribute('data-live-status'));
    if (status) status.textContent = text;
  }

  function startLive(region) {
    var url = region.getAttribute('data-live');
    var every = Number(region.getAttribute('data-live-every')) || 4000;
    var lostText = region.getAttribute('data-live-lost') || '';
    var backText = region.getAttribute('data-live-back') || '';
    var lost = false;
    var timer = null;

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, every);
    }

    function refresh() {
      if (document.hidden) return schedule();
      // Replacing what holds the focus would throw the reader back to the top: wait for them to move on.
      if (region.contains(document.activeElement) && document.activeElement !== region) return schedule();
      var before = finalStates(region);
      fetch(url, { headers: { accept: 'text/html', 'x-cartable-live': '1' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (response) {
          if (response.status === 401 || response.redirected) {
            // The session ended: a reload shows the page that says so.
            window.location.reload();
            return null;
          }
          if (!response.ok) throw new Error(String(response.status));
          return response.text();
        })
        .then(function (html) {
          if (html === null) return;
          region.innerHTML = html;
          var after = finalStates(region);
          Object.keys(after).forEach(function (id) {
            if (after[id] && before[id] === false) {
              var row = region.querySelector('[data-command-id="' + id + '"]');
              if (row) announce(region, row.getAttribute('data-announce') || '');
            }
          });
          if (lost) {
            lost = false;
            announce(region, backText);
          }
          schedule();
        })
        .catch(function () {
          if (!lost) {
            lost = true;
            announce(region, lostText);
          }
          schedule();
        });
    }

    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refresh();
    });
    schedule();
  }

  /*
   * A package upload: the chosen file goes as the raw body of the REST upload, with the page's
   * CSRF token (the session cookie authenticates it), then the catalog is shown again.
   */
  function startUpload(form) {
    var status = document.getElementById('upload-status');
    document.querySelectorAll('[data-upload-fallback]').forEach(function (note) {
      note.hidden = true;
    });
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var input = form.querySelector('input[type=file]');
      var file = input.files && input.files[0];
      if (!file) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      input.removeAttribute('aria-invalid');
      status.textContent = form.getAttribute('data-upload-sending');
      fetch(form.getAttribute('data-upload'), {
        method: 'POST',
        body: file,
        credentials: 'same-origin',
        headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': form.getAttribute('data-csrf'), accept: 'application/json' },
      })
        .then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) throw new Error(answer.message || String(response.status));
            window.location.reload();
          });
        })
        .catch(function (error) {
          status.textContent = form.getAttribute('data-upload-failed') + ' ' + error.message;
        });
    });
  }

  onReady(function () {
    var first = document.querySelector('[data-focus-on-load]');
    if (first) first.focus();
    document.querySelectorAll('[data-live]').forEach(startLive);
    document.querySelectorAll('[data-print]').forEach(function (button) {
      button.hidden = false;
      button.addEventListener('click', function () {
        window.print();
      });
    });
    document.querySelectorAll('[data-upload]').forEach(startUpload);
    var follow = document.querySelector('[data-follow]');
    if (follow) window.location.replace(follow.getAttribute('href'));
  });
})();
