package env_test

import (
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/rivers/env"
)

func Example() {
	type Config struct {
		Grace time.Duration
		Max   int
		Dir   string
	}
	vars := map[string]string{"GAP_GRACE": "45m", "GAP_MAX": "lots"}
	c := Config{Grace: 30 * time.Minute, Max: 96, Dir: "/var/lib/gap"}
	r := env.Lookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	r.Duration("GAP_GRACE", &c.Grace)
	r.Int("GAP_MAX", &c.Max)
	r.String("GAP_DIR", &c.Dir)
	fmt.Println(c.Grace, c.Max, c.Dir)
	fmt.Println(r.Err())
	// Output:
	// 45m0s 96 /var/lib/gap
	// GAP_MAX="lots": want an integer
}
