// Command oidc-server is zitadel/oidc's example OpenID provider
// (github.com/zitadel/oidc/v3/example/server) with one change: it listens on
// LISTEN_HOST (127.0.0.1 unless set) instead of every interface, so that a
// test's provider, with its well-known client secrets and passwords, is
// never reachable from the network. Everything else is the example's own
// main: the same configuration variables (PORT, USERS_FILE, REDIRECT_URI),
// clients, user store, issuer http://localhost:PORT/ and login UI, from the
// module at the version go.mod pins.
//
// It is its own module so that bikfed's go build ./... and go vet ./...
// leave it alone; scripts/oidc.sh builds it.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/config"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

func main() {
	cfg := config.FromEnvVars(&config.Config{Port: config.DefaultIssuerPort})
	host := os.Getenv("LISTEN_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{AddSource: true, Level: slog.LevelDebug}))

	issuer := fmt.Sprintf("http://localhost:%s/", cfg.Port)
	storage.RegisterClients(
		storage.NativeClient("native", cfg.RedirectURI...),
		storage.WebClient("web", "secret", cfg.RedirectURI...),
		storage.WebClient("api", "secret", cfg.RedirectURI...),
	)
	var users storage.UserStore
	if cfg.UsersFile == "" {
		users = storage.NewUserStore(issuer)
	} else {
		var err error
		if users, err = storage.StoreFromFile(cfg.UsersFile); err != nil {
			logger.Error("cannot create UserStore", "error", err)
			os.Exit(1)
		}
	}
	router := exampleop.SetupServer(issuer, storage.NewStorage(users), logger, false)

	l, err := net.Listen("tcp", net.JoinHostPort(host, cfg.Port))
	if err != nil {
		logger.Error("cannot listen", "error", err)
		os.Exit(1)
	}
	logger.Info("server listening, press ctrl+c to stop", "addr", l.Addr().String(), "issuer", issuer)
	if err := http.Serve(l, router); !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server terminated", "error", err)
		os.Exit(1)
	}
}
