package signin

import (
	"net/http"
	"strings"
)

// Limits on what a form may carry, far above any real value: an email
// address has at most 254 characters, and the password policy refuses long
// passwords itself.
const (
	maxEmail    = 320
	maxPassword = 4096
	maxToken    = 256
)

type signInForm struct {
	Email, Password, Next string
}

func field(r *http.Request, name string, limit int) string {
	v := r.PostForm.Get(name)
	if len(v) > limit {
		return ""
	}
	return v
}

func parseSignIn(r *http.Request) (signInForm, error) {
	if err := r.ParseForm(); err != nil {
		return signInForm{}, err
	}
	return signInForm{
		Email:    strings.TrimSpace(field(r, "email", maxEmail)),
		Password: field(r, "password", maxPassword),
		Next:     field(r, "next", 2048),
	}, nil
}

type passwordForm struct {
	Token, Password, Confirm string
}

func parsePassword(r *http.Request) (passwordForm, error) {
	if err := r.ParseForm(); err != nil {
		return passwordForm{}, err
	}
	return passwordForm{
		Token:    field(r, "token", maxToken),
		Password: field(r, "password", maxPassword),
		Confirm:  field(r, "confirm", maxPassword),
	}, nil
}
