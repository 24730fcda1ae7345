// Sends the files of a resource form ahead of it, one by one, showing how
// far each has gone; the form then goes as usual, carrying references to
// the files. Without this script the form sends its files itself.
(function () {
  "use strict";
  function fill(tpl, vals) {
    return tpl.replace(/\{(\w+)\}/g, function (m, k) { return k in vals ? vals[k] : m; });
  }
  function setup(form) {
    var input = form.querySelector("input[type=file][data-upload]");
    var box = form.querySelector("[data-upload-status]");
    if (!input || !box || !window.FormData || !window.XMLHttpRequest) {
      return;
    }
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-upload-text]");
    var list = form.querySelector("[data-upload-list]");
    var max = Number(input.getAttribute("data-max") || 0);
    var busy = false;
    function say(msg, isError) {
      box.hidden = false;
      text.textContent = msg;
      text.className = isError ? "error-text" : "";
    }
    function keep(ref) {
      var h = document.createElement("input");
      h.type = "hidden";
      h.name = "attachment";
      h.value = ref.value;
      form.appendChild(h);
      if (list) {
        var li = document.createElement("li");
        li.textContent = ref.name + " (" + ref.size + ")";
        list.appendChild(li);
        list.hidden = false;
      }
    }
    // post sends data to the upload address with extra query parameters
    // and calls back with the status and the JSON answer (status 0: the
    // connection failed).
    function post(query, data, progress, back) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", input.getAttribute("data-upload") + query);
      xhr.responseType = "json";
      if (progress) {
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) {
            progress(e.loaded);
          }
        };
      }
      xhr.onload = function () { back(xhr.status, xhr.response || {}); };
      xhr.onerror = function () { back(0, {}); };
      xhr.send(data || new FormData());
    }
    function sendOne(f, done, fail) {
      var step = -1;
      function shown(sent) {
        var pct = Math.min(100, Math.floor((sent / Math.max(f.size, 1)) * 100));
        bar.value = pct;
        // Words change in steps of ten, so a screen reader is not flooded.
        if (Math.floor(pct / 10) !== step) {
          step = Math.floor(pct / 10);
          say(fill(input.getAttribute("data-msg-progress"), { name: f.name, percent: String(pct) }));
        }
      }
      function finished(ans) {
        bar.value = 100;
        say(fill(input.getAttribute("data-msg-done"), { name: f.name }));
        done(ans);
      }
      var failed = fill(input.getAttribute("data-msg-failed"), { name: f.name });
      bar.value = 0;
      shown(0);
      var chunk = Number(input.getAttribute("data-chunk") || 0);
      if (!chunk || f.size <= chunk) {
        var data = new FormData();
        data.append("files", f, f.name);
        post("", data, shown, function (status, ans) {
          if (status === 201 && ans.value) {
            finished(ans);
          } else {
            fail(ans.error || failed);
          }
        });
        return;
      }
      // A large file goes in pieces; a dropped connection resumes where
      // the node says the file stands.
      var id = "";
      var tries = 0;
      function resume(offset) {
        if (tries >= 8) {
          fail(failed);
          return;
        }
        say(fill(input.getAttribute("data-msg-retry"), { name: f.name, percent: String(Math.floor((offset / f.size) * 100)) }));
        setTimeout(function () {
          tries++;
          post("&upload=" + id, null, null, function (status, ans) {
            if (status === 200) {
              piece(ans.offset);
            } else if (status === 0 || status >= 500) {
              resume(offset);
            } else {
              fail(ans.error || failed);
            }
          });
        }, Math.min(30000, 1000 * Math.pow(2, tries)));
      }
      function piece(offset) {
        var data = new FormData();
        data.append("chunk", f.slice(offset, Math.min(offset + chunk, f.size)), f.name);
        post("&upload=" + id + "&offset=" + offset, data, function (sent) { shown(offset + sent); }, function (status, ans) {
          if (status === 201 && ans.value) {
            finished(ans);
          } else if (status === 200 || status === 409 && typeof ans.offset === "number") {
            tries = 0;
            piece(ans.offset);
          } else if (status === 0 || status === 400 || status >= 500) {
            resume(offset);
          } else {
            fail(ans.error || failed);
          }
        });
      }
      post("&start=1&name=" + encodeURIComponent(f.name) + "&size=" + f.size + "&type=" + encodeURIComponent(f.type || ""),
        null, null, function (status, ans) {
          if (status === 200 && ans.upload) {
            id = ans.upload;
            piece(0);
          } else {
            fail(ans.error || failed);
          }
        });
    }
    function send(files, i, done, fail) {
      if (i === files.length) {
        done();
        return;
      }
      var f = files[i];
      if (max && f.size > max) {
        fail(fill(input.getAttribute("data-msg-size"), { name: f.name }));
        return;
      }
      sendOne(f, function (ans) {
        keep(ans);
        send(files, i + 1, done, fail);
      }, fail);
    }
    form.addEventListener("submit", function (ev) {
      if (busy) {
        ev.preventDefault();
        return;
      }
      if (!input.files || input.files.length === 0) {
        return;
      }
      ev.preventDefault();
      busy = true;
      var submitter = ev.submitter || null;
      var files = Array.prototype.slice.call(input.files);
      send(files, 0, function () {
        input.value = "";
        busy = false;
        if (submitter && form.requestSubmit) {
          form.requestSubmit(submitter);
        } else {
          form.submit();
        }
      }, function (msg) {
        busy = false;
        input.value = "";
        say(msg, true);
        input.focus();
      });
    });
  }
  function init() {
    var forms = document.querySelectorAll("form[data-resource-form]");
    for (var i = 0; i < forms.length; i++) {
      setup(forms[i]);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
