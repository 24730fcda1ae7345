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
      var data = new FormData();
      data.append("files", f, f.name);
      var xhr = new XMLHttpRequest();
      var step = -1;
      xhr.open("POST", input.getAttribute("data-upload"));
      xhr.responseType = "json";
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) {
          return;
        }
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct;
        // Words change in steps of ten, so a screen reader is not flooded.
        if (Math.floor(pct / 10) !== step) {
          step = Math.floor(pct / 10);
          say(fill(input.getAttribute("data-msg-progress"), { name: f.name, percent: String(pct) }));
        }
      };
      xhr.onload = function () {
        var ans = xhr.response || {};
        if (xhr.status === 201 && ans.value) {
          bar.value = 100;
          say(fill(input.getAttribute("data-msg-done"), { name: f.name }));
          keep(ans);
          send(files, i + 1, done, fail);
        } else {
          fail(ans.error || fill(input.getAttribute("data-msg-failed"), { name: f.name }));
        }
      };
      xhr.onerror = function () {
        fail(fill(input.getAttribute("data-msg-failed"), { name: f.name }));
      };
      bar.value = 0;
      say(fill(input.getAttribute("data-msg-progress"), { name: f.name, percent: "0" }));
      xhr.send(data);
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
