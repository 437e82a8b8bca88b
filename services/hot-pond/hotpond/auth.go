package hotpond

import (
	"fmt"
	"net/http"

	"github.com/watershed-grid/watershed/rivers/bearer"
)

// EnvAPIToken is the bearer token the read API (/v1/*) requires.
const EnvAPIToken = "HOTPOND_API_TOKEN"

// validToken reports what is wrong with a configured token, without
// repeating it (it is a secret). Set but empty is a mistake here: unset
// means loopback clients only.
func validToken(tok string) error {
	if tok == "" {
		return fmt.Errorf("%s is set but empty: unset it to serve the API to loopback clients only, or give a token (openssl rand -hex 32)", EnvAPIToken)
	}
	return bearer.Check(EnvAPIToken, tok)
}

// requireToken guards the read API with the rule of package bearer: with a
// token every request carries it; without one only loopback clients are
// served, so a container's or pod's API is closed until HOTPOND_API_TOKEN
// is set.
func requireToken(token string, next http.Handler) http.Handler {
	return bearer.Guard{Realm: "hot-pond", Env: EnvAPIToken, Token: token}.Wrap(next)
}
