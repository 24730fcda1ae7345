package main

import "testing"

func TestDialable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::]:8080", "127.0.0.1:8080"},
		{"0.0.0.0:9", "127.0.0.1:9"},
		{":8081", "127.0.0.1:8081"},
		{"[::1]:8080", "[::1]:8080"},
		{"hub.internal:80", "hub.internal:80"},
	}
	for _, tc := range tests {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
