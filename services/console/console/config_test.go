package console

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/rivers/env"
)

func lookup(m map[string]string) *env.Reader {
	return env.Lookup(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func TestConfigFromEnv(t *testing.T) {
	us := testUsers(t)
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("# operators\nvic:viewer:"+string(us[1].Hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := configFrom(lookup(map[string]string{
		"CONSOLE_USERS":        "olga:operator:" + string(us[0].Hash),
		"CONSOLE_USERS_FILE":   file,
		"CONSOLE_REGISTRY_URL": "http://127.0.0.1:8112",
		"CONSOLE_RING_SIZE":    "20",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Users) != 2 || c.Users[0].Role != RoleOperator || c.Users[1].Name != "vic" || c.RegistryURL != "http://127.0.0.1:8112" || c.RingSize != 20 {
		t.Fatalf("config %+v", c)
	}
}

func TestConfigProblemsNamed(t *testing.T) {
	_, err := configFrom(lookup(map[string]string{
		"CONSOLE_USERS":        "olga:admin:$2a$04$x,bob:viewer:plain",
		"CONSOLE_REGISTRY_URL": "registry:8080",
		"CONSOLE_SESSION_KEY":  "short",
		"CONSOLE_DLQ_TOPICS":   "rivers",
		"CONSOLE_SIGNIN_WAIT":  "0s",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`role "admin"`, `"bob": the password is not a bcrypt hash`, "CONSOLE_REGISTRY_URL", "CONSOLE_SESSION_KEY", "CONSOLE_DLQ_TOPICS", "CONSOLE_SIGNIN_WAIT=0s: must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := configFrom(lookup(nil)); err == nil || !strings.Contains(err.Error(), "no user may sign in") {
		t.Fatalf("no users: %v", err)
	}
}

func TestConfigTokens(t *testing.T) {
	us := testUsers(t)
	file := filepath.Join(t.TempDir(), "tokens")
	h := sha256.Sum256([]byte(viewToken))
	if err := os.WriteFile(file, []byte("# dashboards\ndashboard:viewer:"+hex.EncodeToString(h[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := sha256.Sum256([]byte(opsToken))
	c, err := configFrom(lookup(map[string]string{
		"CONSOLE_USERS":       "olga:operator:" + string(us[0].Hash),
		"CONSOLE_TOKENS":      "ci-bot:operator:" + strings.ToUpper(hex.EncodeToString(o[:])),
		"CONSOLE_TOKENS_FILE": file,
		"CONSOLE_ALERTS_URL":  "http://127.0.0.1:8115",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tokens) != 2 || c.Tokens[0].Name != "ci-bot" || c.Tokens[0].Hash != o || c.Tokens[1].Role != RoleViewer || c.Tokens[1].Hash != h ||
		c.AlertsURL != "http://127.0.0.1:8115" {
		t.Fatalf("config %+v", c)
	}
	// tokens alone are enough: a console for scripts
	if _, err := configFrom(lookup(map[string]string{"CONSOLE_TOKENS": "ci-bot:operator:" + hex.EncodeToString(o[:])})); err != nil {
		t.Fatalf("tokens only: %v", err)
	}
}

func TestConfigTokenProblemsNamed(t *testing.T) {
	o := sha256.Sum256([]byte(opsToken))
	hash := hex.EncodeToString(o[:])
	_, err := configFrom(lookup(map[string]string{
		"CONSOLE_TOKENS":     "ci:admin:" + hash + ",raw:operator:" + opsToken[:20] + ",ci2:viewer:" + hash + ",ci2:viewer:" + hash + ",nocolons,other:viewer:" + hash,
		"CONSOLE_ALERTS_URL": "alert-router:8080",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`token "ci": role "admin"`, `token "raw": want the SHA-256 of the token in hex`, `token "ci2" listed twice`,
		"token 5: want name:role:sha256-hex", `tokens "ci2" and "other" have the same hash`, "CONSOLE_ALERTS_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), opsToken[:20]) {
		t.Errorf("the error shows a secret:\n%v", err)
	}
}
