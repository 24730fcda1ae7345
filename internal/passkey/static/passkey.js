// Passkey ceremonies for bikfed's pages. A page marks each passkey form
// with data-passkey="register", "enrol", "login" or "second", hides it with
// the hidden attribute, gives its begin address in data-passkey-begin and
// its finish address as the form's action, and says in data-passkey-failed
// what to show when the browser gives no passkey (the person cancelled,
// say). This script shows those forms only where WebAuthn works, so a page
// without it, or without JavaScript, keeps to its password form; and it
// hides what the page marks data-passkey-missing, the words for a browser
// that cannot use passkeys.
(function () {
	"use strict";
	if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch || !window.URLSearchParams) {
		return;
	}

	function toBytes(s) {
		s = s.replace(/-/g, "+").replace(/_/g, "/");
		while (s.length % 4) {
			s += "=";
		}
		var bin = atob(s), out = new Uint8Array(bin.length);
		for (var i = 0; i < bin.length; i++) {
			out[i] = bin.charCodeAt(i);
		}
		return out.buffer;
	}

	function toText(buf) {
		var b = new Uint8Array(buf), bin = "";
		for (var i = 0; i < b.length; i++) {
			bin += String.fromCharCode(b[i]);
		}
		return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
	}

	function ids(list) {
		return (list || []).map(function (c) {
			var d = { type: c.type, id: toBytes(c.id) };
			if (c.transports) {
				d.transports = c.transports;
			}
			return d;
		});
	}

	function creationOptions(o) {
		var pk = o.publicKey;
		pk.challenge = toBytes(pk.challenge);
		pk.user.id = toBytes(pk.user.id);
		pk.excludeCredentials = ids(pk.excludeCredentials);
		return { publicKey: pk };
	}

	function requestOptions(o) {
		var pk = o.publicKey;
		pk.challenge = toBytes(pk.challenge);
		pk.allowCredentials = ids(pk.allowCredentials);
		return { publicKey: pk };
	}

	// answer is PublicKeyCredential.toJSON, done by hand where the browser
	// lacks it.
	function answer(cred) {
		if (typeof cred.toJSON === "function") {
			return cred.toJSON();
		}
		var r = cred.response, out = {
			id: cred.id,
			rawId: toText(cred.rawId),
			type: cred.type,
			authenticatorAttachment: cred.authenticatorAttachment || undefined,
			clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
			response: { clientDataJSON: toText(r.clientDataJSON) }
		};
		if (r.attestationObject) {
			out.response.attestationObject = toText(r.attestationObject);
			if (typeof r.getTransports === "function") {
				out.response.transports = r.getTransports();
			}
		} else {
			out.response.authenticatorData = toText(r.authenticatorData);
			out.response.signature = toText(r.signature);
			if (r.userHandle) {
				out.response.userHandle = toText(r.userHandle);
			}
		}
		return out;
	}

	function post(url, body) {
		return fetch(url, {
			method: "POST",
			body: body,
			credentials: "same-origin",
			headers: { "Accept": "application/json" }
		}).then(function (res) {
			return res.json().then(function (data) {
				if (!res.ok) {
					throw new Error(data.error || res.statusText);
				}
				return data;
			});
		});
	}

	function run(form) {
		var kind = form.getAttribute("data-passkey");
		var status = form.querySelector("[data-passkey-status]");
		var button = form.querySelector("button");
		var fields = new URLSearchParams(new FormData(form));
		var fromServer = false;
		function say(text) {
			if (status) {
				status.textContent = text;
			}
		}
		say("");
		if (button) {
			button.disabled = true;
		}
		post(form.getAttribute("data-passkey-begin"), fields).then(function (opts) {
			fromServer = false;
			return kind === "register" || kind === "enrol" ?
				navigator.credentials.create(creationOptions(opts)) :
				navigator.credentials.get(requestOptions(opts));
		}, function (err) {
			fromServer = true;
			throw err;
		}).then(function (cred) {
			fields.set("credential", JSON.stringify(answer(cred)));
			fromServer = true;
			return post(form.action, fields);
		}).then(function (done) {
			if (done.redirect) {
				window.location.assign(done.redirect);
			} else {
				window.location.reload();
			}
		}).catch(function (err) {
			say(fromServer ? err.message : (form.getAttribute("data-passkey-failed") || err.message));
			if (button) {
				button.disabled = false;
			}
		});
	}

	var missing = document.querySelectorAll("[data-passkey-missing]");
	for (var j = 0; j < missing.length; j++) {
		missing[j].hidden = true;
	}

	var forms = document.querySelectorAll("form[data-passkey]");
	for (var i = 0; i < forms.length; i++) {
		(function (form) {
			form.addEventListener("submit", function (ev) {
				ev.preventDefault();
				run(form);
			});
			form.hidden = false;
		})(forms[i]);
	}
})();
