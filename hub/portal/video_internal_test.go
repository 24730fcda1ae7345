package portal

import "testing"

func TestCaptionsLang(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"clip.fr.vtt", "fr"},
		{"intro.pt-BR.vtt", "pt-BR"},
		{"captions.DE.vtt", "de"},
		{"clip.vtt", "nl"},
		{"clip.final.vtt", "nl"},
		{"vtt", "nl"},
	} {
		if got := captionsLang(c.name, "nl"); got != c.want {
			t.Errorf("captionsLang(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
