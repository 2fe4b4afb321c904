package awsdeps

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// EventRevocationFallback is the notification of a revocation that IAM
// enforces with the role-wide token-issue-time cutoff instead of the
// session's own tag (every session of the role issued before the cutoff
// loses access). It is formatted by name, whichever package emits it.
const EventRevocationFallback = "revocation_fallback"

// ChatMessage is one SNS message: the custom-notification format of Amazon
// Q Developer in chat applications (formerly AWS Chatbot), which renders
// content in Slack, Microsoft Teams and Amazon Chime, and whose
// metadata.additionalContext carries every field of the notification as a
// string for other subscribers (docs/notifications.md).
type ChatMessage struct {
	Version  string      `json:"version"` // always "1.0"
	Source   string      `json:"source"`  // always "custom"
	ID       string      `json:"id,omitempty"`
	Content  ChatContent `json:"content"`
	Metadata ChatMeta    `json:"metadata"`
}

// ChatContent is what the chat channel shows.
type ChatContent struct {
	TextType    string   `json:"textType"` // client-markdown
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMeta is the machine-readable part.
type ChatMeta struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext"`
}

// maxFreeText bounds a justification or comment quoted in a message.
const maxFreeText = 500

// FormatNotification renders n as a chat message. Free text (justifications,
// comments, session names) is quoted so it cannot format the message, ping
// a channel (<!here>) or break out of a code span.
func FormatNotification(n vend.Notification) ChatMessage {
	who := person(n.Principal, n.User)
	actor := "the service"
	if n.Actor != "" {
		// An identity: the principal, and "#user" for a trusted session.
		principal, user, _ := strings.Cut(n.Actor, "#")
		actor = person(principal, user)
	}
	profile := "`" + plain(n.Profile) + "`"
	var title, what string
	var steps []string
	thread := ""
	switch n.Event {
	case vend.EventApprovalRequested:
		thread = "approval-" + n.ApprovalID
		title = fmt.Sprintf(":raising_hand: Approval requested: %s for %s", who, profile)
		what = fmt.Sprintf("%s asks for %s", who, profile)
		if n.DurationSeconds > 0 {
			what += " for " + seconds(n.DurationSeconds)
		}
		if n.Rule != "" {
			what += fmt.Sprintf(" (rule `%s`)", plain(n.Rule))
		}
		what += "."
		if !n.ExpiresAt.IsZero() {
			what += " The request expires at " + stamp(n.ExpiresAt) + "."
		}
		steps = []string{
			"Approve: `sentinel-tvm approve " + plain(n.ApprovalID) + " --comment 'WHY'`",
			"Deny: `sentinel-tvm deny " + plain(n.ApprovalID) + " --comment 'WHY'`",
			"Or open `sentinel-tvm console` and choose Approvals.",
		}
	case vend.EventApprovalDecided:
		thread = "approval-" + n.ApprovalID
		verb := "denied"
		icon := ":no_entry:"
		if n.Decision == "approve" {
			verb, icon = "approved", ":white_check_mark:"
		}
		title = fmt.Sprintf("%s Request %s: %s for %s", icon, verb, who, profile)
		what = fmt.Sprintf("%s %s the request of %s for %s; it is now %s.", actor, verb, who, profile, plain(n.Status))
		switch n.Status {
		case "approved":
			steps = []string{"The requester vends: `sentinel-tvm credentials --profile " + plain(n.Profile) + " --approval-id " + plain(n.ApprovalID) + "`"}
		case "pending":
			steps = []string{"More approvals are needed: `sentinel-tvm approve " + plain(n.ApprovalID) + " --comment 'WHY'`"}
		}
	case vend.EventApprovalCancelled:
		thread = "approval-" + n.ApprovalID
		title = fmt.Sprintf(":heavy_multiplication_x: Approval request cancelled: %s for %s", who, profile)
		what = fmt.Sprintf("%s cancelled the request of %s for %s.", actor, who, profile)
	case vend.EventApprovalExpired:
		thread = "approval-" + n.ApprovalID
		title = fmt.Sprintf(":hourglass: Approval request expired: %s for %s", who, profile)
		what = fmt.Sprintf("The request of %s for %s was not decided or used in time", who, profile)
		if !n.ExpiresAt.IsZero() {
			what += " (it expired at " + stamp(n.ExpiresAt) + ")"
		}
		what += "."
		steps = []string{"Ask again: `sentinel-tvm request-approval --profile " + plain(n.Profile) + " --justification 'WHY'`"}
	case vend.EventBreakGlassOpened:
		thread = "break-glass-" + n.EventID
		title = fmt.Sprintf(":rotating_light: Break-glass opened: %s on %s", who, profile)
		what = fmt.Sprintf("%s opened emergency access to %s, reason `%s`", who, profile, plain(n.ReasonCode))
		if !n.ExpiresAt.IsZero() {
			what += ", until " + stamp(n.ExpiresAt)
		}
		what += "."
		steps = []string{
			"Close it: `sentinel-tvm break-glass close " + plain(n.EventID) + " --comment 'WHY'`",
			"Its sessions: `sentinel-tvm sessions --active --profile " + plain(n.Profile) + "`",
		}
	case vend.EventBreakGlassClosed:
		thread = "break-glass-" + n.EventID
		title = fmt.Sprintf(":lock: Break-glass closed: %s on %s", who, profile)
		what = fmt.Sprintf("%s closed the emergency access of %s to %s (reason `%s`).", actor, who, profile, plain(n.ReasonCode))
	case vend.EventSessionRevoked:
		thread = "session-" + n.SessionID
		title = fmt.Sprintf(":no_entry_sign: Session revoked: %s on %s", who, profile)
		what = fmt.Sprintf("%s revoked session `%s` of %s on %s (enforced by %s)", actor, plain(n.SessionID), who, profile, enforcement(n.Enforcement))
		if !n.BlockedUntil.IsZero() {
			what += "; new credentials for this person and profile are refused until " + stamp(n.BlockedUntil)
		}
		what += "."
		steps = []string{"Details: `sentinel-tvm session " + plain(n.SessionID) + "`"}
	case EventRevocationFallback:
		thread = "session-" + n.SessionID
		title = fmt.Sprintf(":warning: Revocation fell back to a role-wide cutoff on %s", profile)
		what = fmt.Sprintf("Revoking session `%s` of %s could not use the session's own tag: IAM now denies every session of %s's role issued before the cutoff, including other people's. They must request new credentials.",
			plain(n.SessionID), who, profile)
		steps = []string{"Details: `sentinel-tvm session " + plain(n.SessionID) + "`",
			"Active sessions of the profile: `sentinel-tvm sessions --active --profile " + plain(n.Profile) + "`"}
	default:
		title = fmt.Sprintf("Sentinel TVM: %s", plain(n.Event))
		what = fmt.Sprintf("%s: %s on %s.", plain(n.Event), who, profile)
	}
	var b strings.Builder
	b.WriteString(what)
	if n.Justification != "" {
		b.WriteString("\n*Justification:* " + quoteText(n.Justification))
	}
	if n.Comment != "" {
		label := "Comment"
		if n.Event == vend.EventSessionRevoked || n.Event == EventRevocationFallback {
			label = "Reason"
		}
		b.WriteString("\n*" + label + ":* " + quoteText(n.Comment))
	}
	if n.RequestID != "" {
		b.WriteString("\nRequest ID `" + plain(n.RequestID) + "`")
	}
	var related []string
	for _, id := range []string{n.ApprovalID, n.EventID, n.SessionID} {
		if id != "" {
			related = append(related, id)
		}
	}
	return ChatMessage{
		Version: "1.0",
		Source:  "custom",
		Content: ChatContent{
			TextType: "client-markdown", Title: title, Description: b.String(), NextSteps: steps,
			Keywords: []string{"sentinel-tvm", n.Event},
		},
		Metadata: ChatMeta{
			ThreadID: thread, Summary: stripMarkup(title), EventType: n.Event, RelatedResources: related,
			AdditionalContext: additionalContext(n),
		},
	}
}

// additionalContext is every set field of n, each as a string (the format's
// additionalContext holds strings only).
func additionalContext(n vend.Notification) map[string]string {
	raw, _ := json.Marshal(n)
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// person names whose request, event or session it is: the trusted user
// (an SSO e-mail) with the principal, or the principal alone.
func person(principal, user string) string {
	switch {
	case principal == "" && user == "":
		return "someone"
	case user == "":
		return quoteText(principal)
	default:
		return quoteText(user) + " (" + quoteText(principal) + ")"
	}
}

func enforcement(e string) string {
	switch e {
	case "session_tag":
		return "the session's tag"
	case "token_issue_time":
		return "a role-wide token-issue-time cutoff"
	case "":
		return "IAM"
	}
	return "`" + plain(e) + "`"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func seconds(s int64) string {
	d := (time.Duration(s) * time.Second).String()
	d = strings.TrimSuffix(d, "0s")
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	if d == "" {
		d = "0s"
	}
	return d
}

// quoteText is free text inside a code span: one line, no backticks, no
// angle brackets (Slack's <!channel> and links), cut to maxFreeText runes.
func quoteText(s string) string {
	s = plain(s)
	if r := []rune(s); len(r) > maxFreeText {
		s = string(r[:maxFreeText]) + "…"
	}
	if s == "" {
		return "``"
	}
	return "`" + s + "`"
}

// plain makes text safe inside a code span.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '`':
			return '\''
		case r == '<':
			return '‹'
		case r == '>':
			return '›'
		case r == '&':
			return '＆'
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		}
		return r
	}, s)
}

// stripMarkup is a title without emoji codes and backticks, for the summary.
func stripMarkup(title string) string {
	if strings.HasPrefix(title, ":") {
		if i := strings.Index(title[1:], ": "); i >= 0 {
			title = title[i+3:]
		}
	}
	return strings.ReplaceAll(title, "`", "")
}
