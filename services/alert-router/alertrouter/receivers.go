package alertrouter

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sender delivers notifications to one receiver. Send returns a
// [PermanentError] when retrying cannot help (a 4xx answer, a refused
// recipient): the notification is dead-lettered at once.
type Sender interface {
	// Kind is "webhook", "slack" or "email".
	Kind() string
	// Send delivers n; it returns when the receiver accepted it or ctx ends.
	Send(ctx context.Context, n *Notification) error
}

// PermanentError is a delivery failure retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Headers of a webhook delivery.
const (
	HeaderSignature      = "X-Watershed-Signature"
	HeaderTimestamp      = "X-Watershed-Timestamp"
	HeaderNotificationID = "X-Watershed-Notification-Id"
)

// WebhookPayload is the JSON body of a webhook delivery (version "1").
type WebhookPayload struct {
	Version      string            `json:"version"`
	ID           string            `json:"id"`
	Receiver     string            `json:"receiver"`
	Status       string            `json:"status"`
	Repeat       bool              `json:"repeat,omitempty"`
	GroupKey     string            `json:"group_key"`
	GroupLabels  map[string]string `json:"group_labels"`
	CommonLabels map[string]string `json:"common_labels"`
	Alerts       []Alert           `json:"alerts"`
	Truncated    int               `json:"truncated,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
}

// Sign returns the X-Watershed-Signature value of body sent at timestamp
// (unix seconds, the X-Watershed-Timestamp header): "sha256=" and the hex
// HMAC-SHA256, keyed with secret, of "<timestamp>.<body>".
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's at timestamp under secret, in
// constant time: what a receiver checks (and that the timestamp is recent).
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

type webhookSender struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

func (w *webhookSender) Kind() string { return "webhook" }

func (w *webhookSender) Send(ctx context.Context, n *Notification) error {
	body, err := json.Marshal(WebhookPayload{
		Version: "1", ID: n.ID, Receiver: n.Receiver, Status: n.Status, Repeat: n.Repeat,
		GroupKey: n.GroupKey, GroupLabels: n.GroupLabels, CommonLabels: commonLabels(n.Alerts),
		Alerts: n.Alerts, Truncated: n.Truncated, CreatedAt: n.CreatedAt,
	})
	if err != nil {
		return &PermanentError{err}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderNotificationID, n.ID)
	if len(w.secret) > 0 {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(w.secret, ts, body))
	}
	return post(ctx, w.client, w.url, h, body)
}

// post sends body and classifies the answer: 2xx done, 408/429/5xx and
// network errors retryable, any other status permanent.
func post(ctx context.Context, c *http.Client, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{err}
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redactURL(url), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s %s", redactURL(url), resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return &PermanentError{err}
}

// redactURL keeps scheme, host and path: webhook URLs carry tokens in
// their query (and Slack's in their path, which stays: it is no secret
// once the log is as protected as the config).
func redactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

type slackSender struct {
	url, channel, username string
	client                 *http.Client
}

func (s *slackSender) Kind() string { return "slack" }

// SlackPayload is the body of a Slack-compatible incoming webhook.
type SlackPayload struct {
	Text        string            `json:"text"`
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	Attachments []SlackAttachment `json:"attachments,omitempty"`
}

// SlackAttachment is one coloured block of a SlackPayload.
type SlackAttachment struct {
	Color    string `json:"color"`
	Title    string `json:"title"`
	Text     string `json:"text"`
	Fallback string `json:"fallback"`
}

func (s *slackSender) Send(ctx context.Context, n *Notification) error {
	title, text := render(n)
	color := "danger"
	if n.Status == StateResolved {
		color = "good"
	}
	body, err := json.Marshal(SlackPayload{Text: title, Channel: s.channel, Username: s.username,
		Attachments: []SlackAttachment{{Color: color, Title: title, Text: text, Fallback: title}}})
	if err != nil {
		return &PermanentError{err}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return post(ctx, s.client, s.url, h, body)
}

type emailSender struct {
	addr, from, username, password string
	to                             []string
	now                            func() time.Time
}

func (e *emailSender) Kind() string { return "email" }

func (e *emailSender) Send(ctx context.Context, n *Notification) error {
	host, _, err := net.SplitHostPort(e.addr)
	if err != nil {
		return &PermanentError{fmt.Errorf("smarthost %q: want host:port: %w", e.addr, err)}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", e.addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", e.addr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return smtpErr(e.addr, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", e.addr, err)
		}
	}
	if e.username != "" {
		// net/smtp refuses PLAIN without TLS except to localhost.
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, host)); err != nil {
			return smtpErr(e.addr, err)
		}
	}
	if err := c.Mail(e.from); err != nil {
		return smtpErr(e.addr, err)
	}
	for _, to := range e.to {
		if err := c.Rcpt(to); err != nil {
			return smtpErr(e.addr, fmt.Errorf("RCPT %s: %w", to, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(e.addr, err)
	}
	if _, err := w.Write(e.message(n)); err != nil {
		return smtpErr(e.addr, err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(e.addr, err)
	}
	return c.Quit()
}

// smtpErr makes a 5xx reply permanent.
func smtpErr(addr string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &PermanentError{fmt.Errorf("smtp %s: %w", addr, err)}
	}
	return fmt.Errorf("smtp %s: %w", addr, err)
}

func (e *emailSender) message(n *Notification) []byte {
	title, text := render(n)
	var b strings.Builder
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", e.from)
	hdr("To", strings.Join(e.to, ", "))
	hdr("Subject", strings.NewReplacer("\r", " ", "\n", " ").Replace(title))
	hdr("Date", e.now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+n.ID+"@alert-router.watershed>")
	hdr(HeaderNotificationID, n.ID)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, ".") { // dot-stuffing is the DATA writer's; keep lines short
			line = " " + line
		}
		b.WriteString(line + "\r\n")
	}
	return []byte(b.String())
}

// render is the human text of a notification: a title such as
// "[FIRING:2] outage_suspected (transformer_id=TX-1)" and one paragraph per
// alert.
func render(n *Notification) (title, text string) {
	firing := 0
	for _, a := range n.Alerts {
		if a.State == StateFiring {
			firing++
		}
	}
	status := strings.ToUpper(n.Status)
	if n.Status == StateFiring {
		status += ":" + strconv.Itoa(firing+n.Truncated)
	}
	title = "[" + status + "] " + labelString(n.GroupLabels)
	if n.Repeat {
		title += " (still firing)"
	}
	var b strings.Builder
	for _, a := range n.Alerts {
		fmt.Fprintf(&b, "%s %s: %s\n", strings.ToUpper(a.State), a.Name, a.Summary)
		fmt.Fprintf(&b, "  since %s", a.StartsAt.UTC().Format(time.RFC3339))
		if !a.EndsAt.IsZero() {
			fmt.Fprintf(&b, ", until %s", a.EndsAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(&b, "\n  %s\n", labelString(a.Labels))
	}
	if n.Truncated > 0 {
		fmt.Fprintf(&b, "... and %d more alerts (watershed alerts ls)\n", n.Truncated)
	}
	return title, b.String()
}

func labelString(l map[string]string) string {
	keys := sortedKeys(l)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, " ")
}

func commonLabels(alerts []Alert) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range alerts[0].Labels {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		for k, v := range out {
			if a.Labels[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// newSenders builds one Sender per receiver; a variable a receiver names
// but that is unset is an error naming both.
func newSenders(specs []ReceiverSpec, cfg Config, client *http.Client, now func() time.Time, getenv func(string) string) (map[string]Sender, error) {
	out := map[string]Sender{}
	var errs []string
	env := func(rc, field, name string) string {
		if name == "" {
			return ""
		}
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Sprintf("receiver %s: %s names %s, which is not set", rc, field, name))
		}
		return v
	}
	for _, rc := range specs {
		switch {
		case rc.Webhook != nil:
			u := rc.Webhook.URL
			if rc.Webhook.URLEnv != "" {
				u = env(rc.Name, "url_env", rc.Webhook.URLEnv)
			}
			var secret string
			if rc.Webhook.SecretEnv != "" {
				secret = getenv(rc.Webhook.SecretEnv)
				if secret == "" && rc.Name != DefaultReceiver {
					errs = append(errs, fmt.Sprintf("receiver %s: secret_env names %s, which is not set", rc.Name, rc.Webhook.SecretEnv))
				}
			}
			out[rc.Name] = &webhookSender{url: u, secret: []byte(secret), client: client, now: now}
		case rc.Slack != nil:
			u := rc.Slack.URL
			if rc.Slack.URLEnv != "" {
				u = env(rc.Name, "url_env", rc.Slack.URLEnv)
			}
			out[rc.Name] = &slackSender{url: u, channel: rc.Slack.Channel, username: rc.Slack.Username, client: client}
		case rc.Email != nil:
			e := &emailSender{addr: rc.Email.Smarthost, from: rc.Email.From, to: rc.Email.To,
				username: cfg.SMTPUsername, password: cfg.SMTPPassword, now: now}
			if e.addr == "" {
				e.addr = cfg.SMTPAddr
			}
			if e.from == "" {
				e.from = cfg.SMTPFrom
			}
			if rc.Email.UsernameEnv != "" {
				e.username = env(rc.Name, "username_env", rc.Email.UsernameEnv)
			}
			if rc.Email.PasswordEnv != "" {
				e.password = env(rc.Name, "password_env", rc.Email.PasswordEnv)
			}
			out[rc.Name] = e
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}
