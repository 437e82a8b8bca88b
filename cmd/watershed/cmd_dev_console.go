package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
	"github.com/watershed-grid/watershed/services/console/console"
	"golang.org/x/crypto/bcrypt"
)

// devConsoleFile holds the password of the console's operator of
// `watershed dev` when CONSOLE_USERS and CONSOLE_USERS_FILE are unset.
const devConsoleFile = "console-password"

// devConsoleUser returns the console's dev operator, "operator", whose
// password is kept in <dataDir>/console-password (made on the first run,
// readable by the owner only); none when CONSOLE_USERS or
// CONSOLE_USERS_FILE name the users.
func devConsoleUser(dataDir string) ([]console.User, error) {
	if os.Getenv("CONSOLE_USERS") != "" || os.Getenv("CONSOLE_USERS_FILE") != "" {
		return nil, nil
	}
	path := filepath.Join(dataDir, devConsoleFile)
	b, err := os.ReadFile(path)
	pw := strings.TrimSpace(string(b))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && pw == "") {
		r := make([]byte, 12)
		_, _ = rand.Read(r)
		pw = hex.EncodeToString(r)
		err = os.WriteFile(path, []byte(pw+"\n"), 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("console password %s: %w", path, err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	return []console.User{{Name: "operator", Role: console.RoleOperator, Hash: h}}, nil
}

// printConsole prints the console's address and how to sign in.
func printConsole(w io.Writer, dataDir string, st []ecosystem.Status) {
	for _, s := range st {
		if s.Name != console.Name {
			continue
		}
		how := "users from CONSOLE_USERS / CONSOLE_USERS_FILE"
		if os.Getenv("CONSOLE_USERS") == "" && os.Getenv("CONSOLE_USERS_FILE") == "" {
			how = "sign in as operator, password in " + filepath.Join(dataDir, devConsoleFile)
		}
		fmt.Fprintf(w, "console:   http://%s/  (%s)\n", s.HTTPAddr, how)
	}
}
