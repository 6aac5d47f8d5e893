package cli

// The status page: GET / and /ui render the broker's status snapshot as
// server-side HTML (html/template escapes every name: topic and group
// names are user input), which a small inline script refreshes in place;
// GET /v1/status serves the same snapshot as JSON.

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

//go:embed status_page.html
var statusPageHTML string

// defaultStatusRefresh is the page's refresh period in seconds; ?refresh=N
// overrides it (0 turns it off).
const defaultStatusRefresh = 5

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"ids": func(ids []uint64) string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatUint(id, 10)
		}
		return strings.Join(s, ", ")
	},
	"bytes": humanBytes,
}).Parse(statusPageHTML))

// statusPageCSP allows the page's one inline script (by its hash) and
// nothing else that is not from the broker itself: should a name ever
// get past the template's escaping, it could not run.
var statusPageCSP = func() string {
	_, rest, ok := strings.Cut(statusPageHTML, "<script>")
	script, _, ok2 := strings.Cut(rest, "</script>")
	if !ok || !ok2 {
		panic("status_page.html: no inline script")
	}
	sum := sha256.Sum256([]byte(script))
	return "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; " +
		"script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// registerStatus adds /, /ui and /v1/status to mux.
func registerStatus(mux *http.ServeMux, s statusSource) {
	page := func(w http.ResponseWriter, r *http.Request) {
		refresh := defaultStatusRefresh
		if v := r.URL.Query().Get("refresh"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 3600 {
				http.Error(w, "refresh: seconds between 0 and 3600", http.StatusBadRequest)
				return
			}
			refresh = n
		}
		var buf bytes.Buffer
		err := statusPage.Execute(&buf, struct {
			S       StatusResponse
			Refresh int
			Keep    int
		}{s.snapshot(), refresh, recentLeaderChanges})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", statusPageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	}
	mux.HandleFunc("GET /{$}", page)
	mux.HandleFunc("GET /ui", page)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.snapshot())
	})
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
