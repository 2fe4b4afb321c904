package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Dynamo is the Store on the DynamoDB table described by TableSchema.
type Dynamo struct {
	client DynamoAPI
	table  string
	opt    Options
}

var _ Store = (*Dynamo)(nil)

// NewDynamo returns a Store on table.
func NewDynamo(client DynamoAPI, table string, opt Options) *Dynamo {
	return &Dynamo{client: client, table: table, opt: opt.withDefaults()}
}

// maxAttempts bounds retries of writes that lost a race (a transaction
// conflict, or an optimistic version check) before ErrUnavailable.
const maxAttempts = 8

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// Expression attribute names, shared by every expression.
var names = map[string]string{
	"#pk": AttrPK, "#ttl": AttrTTL, "#count": "count", "#kind": "kind",
	"#status": "status", "#exp": "expires_at", "#version": "version", "#target": "target_id",
	"#owner": "owner",
}

// only returns the names an expression uses (DynamoDB rejects unused ones).
func only(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = names[k]
	}
	return m
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(k.pk), AttrSK: str(k.sk)}
}

func marshal(v any) map[string]types.AttributeValue {
	m, err := attributevalue.MarshalMap(v)
	if err != nil { // the item types are plain structs: this is a bug
		panic(fmt.Sprintf("store: marshal %T: %v", v, err))
	}
	return m
}

// rateUpdate counts one request in the window holding now, unless full.
func (d *Dynamo) rateUpdate(rk RateKey, limit int, window time.Duration, now time.Time) *types.Update {
	start, end := rateWindow(now, window)
	return &types.Update{
		TableName:                aws.String(d.table),
		Key:                      rateKey(rk, window, start).av(),
		UpdateExpression:         aws.String("ADD #count :one SET #ttl = :ttl, #kind = :kind"),
		ConditionExpression:      aws.String("attribute_not_exists(#count) OR #count < :limit"),
		ExpressionAttributeNames: only("#count", "#ttl", "#kind"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":limit": num(int64(limit)),
			":ttl": num(end.Add(RateWindowSlack).Unix()), ":kind": str(kindRate),
		},
	}
}

// Vend implements Sessions: one TransactWriteItems holding the rate-limit
// update, the conditional put of the session and a condition check on the
// person's re-vending block for the profile.
func (d *Dynamo) Vend(ctx context.Context, rk RateKey, limit int, window time.Duration, s SessionRecord) error {
	return d.vend(ctx, rk, limit, window, s, false)
}

// VendApproved implements Sessions: Vend's transaction plus the update of
// the approval, approved and unexpired -> used. No read first: the
// condition is the check.
func (d *Dynamo) VendApproved(ctx context.Context, rk RateKey, limit int, window time.Duration, s SessionRecord) error {
	if err := checkVendApproved(s); err != nil {
		return err
	}
	return d.vend(ctx, rk, limit, window, s, true)
}

// Positions in the vend transaction.
const (
	vendRate = iota
	vendSession
	vendBlock
	vendApproval
)

func (d *Dynamo) vend(ctx context.Context, rk RateKey, limit int, window time.Duration, s SessionRecord, useApproval bool) error {
	if err := checkRate(limit, window); err != nil {
		return err
	}
	s, err := newSession(s)
	if err != nil {
		return err
	}
	now := d.opt.now()
	items := []types.TransactWriteItem{
		vendRate: {Update: d.rateUpdate(rk, limit, window, now)},
		vendSession: {Put: &types.Put{
			TableName:                aws.String(d.table),
			Item:                     marshal(s.item(d.opt.Retention)),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: only("#pk"),
		}},
		vendBlock: {ConditionCheck: &types.ConditionCheck{
			TableName:                           aws.String(d.table),
			Key:                                 blockKey(s.Principal, s.User, s.Profile).av(),
			ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
			ExpressionAttributeNames:            only("#pk", "#exp"),
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}
	if useApproval {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(d.table),
			Key:       approvalKey(s.ApprovalID).av(),
			UpdateExpression: aws.String("SET #status = :used, used_at = :now, used_by_session = :sid, " +
				AttrGSI2PK + " = :usedpk ADD #version :one"),
			ConditionExpression:      aws.String("attribute_exists(#pk) AND #status = :approved AND #exp > :now"),
			ExpressionAttributeNames: only("#pk", "#status", "#exp", "#version"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":used": str(string(ApprovalUsed)), ":approved": str(string(ApprovalApproved)),
				":now": num(now.Unix()), ":sid": str(s.ID), ":usedpk": str(approvalStatusPK(ApprovalUsed)), ":one": num(1),
			},
		}})
	}
	// A session vended under a break-glass event commits only while the
	// event still holds the person's lock: a close that lands between the
	// check and this write makes the vend fail instead of leaving a session
	// the close's revocation never saw.
	bgPos := -1
	if s.BreakGlassID != "" {
		bgPos = len(items)
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                 aws.String(d.table),
			Key:                       activeBGKey(s.Principal, s.User, s.Profile).av(),
			ConditionExpression:       aws.String("#target = :event AND #exp > :now"),
			ExpressionAttributeNames:  only("#target", "#exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":event": str(s.BreakGlassID), ":now": num(now.Unix())},
		}})
	}
	_, err = d.transact(ctx, "vend", &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var c *cancelled
	if errors.As(err, &c) {
		switch {
		case bgPos >= 0 && c.failed(bgPos):
			return fmt.Errorf("%w: break-glass event %s is closed or expired", ErrConflict, s.BreakGlassID)
		case c.failed(vendBlock):
			var b blockItem
			if item := c.reasons[vendBlock].Item; len(item) > 0 {
				_ = attributevalue.UnmarshalMap(item, &b)
			}
			return &BlockedError{Until: fromEpoch(b.Until)}
		case useApproval && c.failed(vendApproval):
			return fmt.Errorf("%w: approval %s is not approved, or expired, or used", ErrConflict, s.ApprovalID)
		case c.failed(vendRate):
			return rateLimited(now, limit, window)
		case c.failed(vendSession):
			return fmt.Errorf("%w: %s", ErrSessionExists, s.ID)
		}
		return unavailable("vend", err)
	}
	return err
}

// CountRequest implements Sessions with one conditional UpdateItem.
func (d *Dynamo) CountRequest(ctx context.Context, rk RateKey, limit int, window time.Duration) error {
	if err := checkRate(limit, window); err != nil {
		return err
	}
	now := d.opt.now()
	u := d.rateUpdate(rk, limit, window, now)
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return rateLimited(now, limit, window)
	case err != nil:
		return unavailable("count request", err)
	}
	return nil
}

// MarkSessionFailed implements Sessions.
func (d *Dynamo) MarkSessionFailed(ctx context.Context, id, reason string) error {
	_, err := d.updateSession(ctx, "mark session failed", id,
		"SET #status = :failed, failure_reason = :reason",
		"attribute_exists(#pk) AND #status = :active",
		map[string]types.AttributeValue{":failed": str(string(SessionFailed)), ":reason": str(reason), ":active": str(string(SessionActive))},
		"#pk", "#status")
	return err
}

// RevokeSession implements Sessions: active and unexpired -> revoked.
func (d *Dynamo) RevokeSession(ctx context.Context, id string, r Revocation) (SessionRecord, error) {
	now := d.opt.now()
	s, err := d.updateSession(ctx, "revoke session", id,
		"SET #status = :revoked, revoked_at = :now, revoked_by = :by, revoke_reason = :reason, revoke_enforcement = :enf",
		"attribute_exists(#pk) AND #status = :active AND #exp > :now",
		map[string]types.AttributeValue{
			":revoked": str(string(SessionRevoked)), ":active": str(string(SessionActive)),
			":now": num(now.Unix()), ":by": str(r.By), ":reason": str(r.Reason), ":enf": str(r.Enforcement),
		},
		"#pk", "#status", "#exp")
	return s.at(now), err
}

// updateSession applies a conditional update and tells a missing session
// (ErrNotFound) from one in another state (ErrConflict).
func (d *Dynamo) updateSession(ctx context.Context, op, id, update, cond string, values map[string]types.AttributeValue, nameKeys ...string) (SessionRecord, error) {
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.table),
		Key:                                 sessionKey(id).av(),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            only(nameKeys...),
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && len(ccf.Item) == 0:
		return SessionRecord{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	case errors.As(err, &ccf):
		var it sessionItem
		_ = attributevalue.UnmarshalMap(ccf.Item, &it)
		return SessionRecord{}, fmt.Errorf("%w: session %s is %s", ErrConflict, id, it.record().at(d.opt.now()).Status)
	case err != nil:
		return SessionRecord{}, unavailable(op, err)
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return SessionRecord{}, unavailable(op, err)
	}
	return it.record(), nil
}

// GetSession implements Sessions.
func (d *Dynamo) GetSession(ctx context.Context, id string) (SessionRecord, error) {
	var it sessionItem
	if err := d.get(ctx, "get session", sessionKey(id), &it); err != nil {
		return SessionRecord{}, err
	}
	return it.record().at(d.opt.now()), nil
}

// ListSessionsByPrincipal implements Sessions (GSI1).
func (d *Dynamo) ListSessionsByPrincipal(ctx context.Context, principal, user string, f SessionFilter) ([]SessionRecord, error) {
	f.Principal = ""
	q := d.query(IndexGSI1, AttrGSI1PK, personPK(principal, user), AttrGSI1SK, kindSession+"#", "", f.Before.sk(kindSession))
	return listQuery(ctx, d, q, f.limit(), "list sessions", func(it sessionItem) (SessionRecord, bool) {
		s := it.record()
		return s.at(d.opt.now()), f.match(s, d.opt.now())
	})
}

// ListSessions implements Sessions (GSI2). ActiveOnly reads only the
// sessions issued within the longest STS session lifetime.
func (d *Dynamo) ListSessions(ctx context.Context, f SessionFilter) ([]SessionRecord, error) {
	from := ""
	if f.ActiveOnly {
		from = createdSK(kindSession, d.opt.now().Add(-maxSessionLifetime), "")
	}
	q := d.query(IndexGSI2, AttrGSI2PK, kindSession, AttrGSI2SK, kindSession+"#", from, f.Before.sk(kindSession))
	return listQuery(ctx, d, q, f.limit(), "list sessions", func(it sessionItem) (SessionRecord, bool) {
		s := it.record()
		return s.at(d.opt.now()), f.match(s, d.opt.now())
	})
}

// CreateApproval implements Approvals. The pending pointer (one per person
// and profile) and the request are written in one transaction; the pointer
// may replace only an expired one, so concurrent creations yield one
// pending request.
func (d *Dynamo) CreateApproval(ctx context.Context, a ApprovalRequest) (ApprovalRequest, bool, error) {
	for range maxAttempts {
		now := d.opt.now()
		a, err := newApproval(a, now)
		if err != nil {
			return ApprovalRequest{}, false, err
		}
		pk := pendingKey(a.Principal, a.User, a.Profile)
		in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:                           aws.String(d.table),
				Item:                                marshal(pointer(pk, kindPending, a.ID, a.ExpiresAt)),
				ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
				ExpressionAttributeNames:            only("#pk", "#exp"),
				ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix())},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
			{Put: d.putNew(marshal(a.item(1, d.opt.Retention)))},
		}}
		_, err = d.transact(ctx, "create approval", in)
		var c *cancelled
		switch {
		case err == nil:
			return a, true, nil
		case !errors.As(err, &c):
			return ApprovalRequest{}, false, err
		case c.failed(1):
			return ApprovalRequest{}, false, fmt.Errorf("%w: approval ID %s exists", ErrConflict, a.ID)
		case !c.failed(0):
			return ApprovalRequest{}, false, unavailable("create approval", err)
		}
		var ptr pointerItem
		if item := c.reasons[0].Item; len(item) > 0 {
			_ = attributevalue.UnmarshalMap(item, &ptr)
		} else if err := d.get(ctx, "create approval", pk, &ptr); err != nil && !errors.Is(err, ErrNotFound) {
			return ApprovalRequest{}, false, err
		}
		prev, err := d.GetApproval(ctx, ptr.Target)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return ApprovalRequest{}, false, err
		}
		if err == nil && prev.Status == ApprovalPending {
			return prev, false, nil
		}
		// A pointer left behind (its request is gone or decided): drop it
		// if it is still the same one, and try again.
		if err := d.deletePointer(ctx, pk, ptr.Target); err != nil {
			return ApprovalRequest{}, false, err
		}
	}
	return ApprovalRequest{}, false, unavailable("create approval", errors.New("too much contention"))
}

// GetApproval implements Approvals.
func (d *Dynamo) GetApproval(ctx context.Context, id string) (ApprovalRequest, error) {
	var it approvalItem
	if err := d.get(ctx, "get approval", approvalKey(id), &it); err != nil {
		return ApprovalRequest{}, err
	}
	return it.record().at(d.opt.now()), nil
}

// ListApprovalsByRequester implements Approvals (GSI1).
func (d *Dynamo) ListApprovalsByRequester(ctx context.Context, principal, user string, p Page) ([]ApprovalRequest, error) {
	q := d.query(IndexGSI1, AttrGSI1PK, personPK(principal, user), AttrGSI1SK, kindApproval+"#", "", p.Before.sk(kindApproval))
	return listQuery(ctx, d, q, p.limit(), "list approvals", func(it approvalItem) (ApprovalRequest, bool) {
		return it.record().at(d.opt.now()), true
	})
}

// ListApprovalsByStatus implements Approvals (GSI2, partitioned by the
// stored status; expired is read from pending, approved and expired).
func (d *Dynamo) ListApprovalsByStatus(ctx context.Context, status ApprovalStatus, p Page) ([]ApprovalRequest, error) {
	stored := []ApprovalStatus{status}
	if status == ApprovalExpired {
		stored = []ApprovalStatus{ApprovalPending, ApprovalApproved, ApprovalExpired}
	}
	var out []ApprovalRequest
	for _, st := range stored {
		q := d.query(IndexGSI2, AttrGSI2PK, approvalStatusPK(st), AttrGSI2SK, kindApproval+"#", "", p.Before.sk(kindApproval))
		got, err := listQuery(ctx, d, q, p.limit(), "list approvals", func(it approvalItem) (ApprovalRequest, bool) {
			a := it.record().at(d.opt.now())
			return a, a.Status == status
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return newestFirst(out, p.limit(), func(a ApprovalRequest) string {
		return createdSK(kindApproval, a.CreatedAt, a.ID)
	}), nil
}

// ExpireApprovals implements Approvals: it reads the pending and approved
// partitions of GSI2 for requests past their expiry and stores each one's
// expiry with the conditional write of changeApproval, so of two sweeps
// only one changes (and returns) a request.
func (d *Dynamo) ExpireApprovals(ctx context.Context, limit int) ([]ApprovalRequest, error) {
	limit = orDefault(limit)
	var out []ApprovalRequest
	for _, st := range []ApprovalStatus{ApprovalPending, ApprovalApproved} {
		q := d.query(IndexGSI2, AttrGSI2PK, approvalStatusPK(st), AttrGSI2SK, kindApproval+"#", "", "")
		due, err := listQuery(ctx, d, q, limit, "list approvals to expire", func(it approvalItem) (ApprovalRequest, bool) {
			a := it.record()
			return a, a.at(d.opt.now()).Status == ApprovalExpired
		})
		if err != nil {
			return out, err
		}
		for _, a := range due {
			if len(out) >= limit {
				return out, nil
			}
			got, err := d.changeApproval(ctx, "expire approval", a.ID, expire)
			switch {
			case errors.Is(err, ErrConflict):
				continue // expired by another sweep, or decided, meanwhile
			case err != nil:
				return out, err
			}
			out = append(out, got)
		}
	}
	return out, nil
}

// DecideApproval implements Approvals.
func (d *Dynamo) DecideApproval(ctx context.Context, id string, dec Decision) (ApprovalRequest, error) {
	return d.changeApproval(ctx, "decide approval", id, decide(dec))
}

// CancelApproval implements Approvals.
func (d *Dynamo) CancelApproval(ctx context.Context, id, by string) (ApprovalRequest, error) {
	return d.changeApproval(ctx, "cancel approval", id, cancel(by))
}

// MarkApprovalUsed implements Approvals.
func (d *Dynamo) MarkApprovalUsed(ctx context.Context, id, sessionID string) (ApprovalRequest, error) {
	return d.changeApproval(ctx, "mark approval used", id, markUsed(sessionID))
}

// changeApproval reads the request, applies change and writes it back on
// the condition that nobody wrote it since (its version); a lost race reads
// again. Leaving pending also drops the pending pointer, in the same
// transaction.
func (d *Dynamo) changeApproval(ctx context.Context, op, id string, change approvalChange) (ApprovalRequest, error) {
	for range maxAttempts {
		var it approvalItem
		if err := d.get(ctx, op, approvalKey(id), &it); err != nil {
			return ApprovalRequest{}, err
		}
		now := d.opt.now()
		a := it.record()
		if err := change(&a, now); err != nil {
			return ApprovalRequest{}, err
		}
		items := []types.TransactWriteItem{{Put: &types.Put{
			TableName:                 aws.String(d.table),
			Item:                      marshal(a.item(it.Version+1, d.opt.Retention)),
			ConditionExpression:       aws.String("#version = :version"),
			ExpressionAttributeNames:  only("#version"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":version": num(int64(it.Version))},
		}}}
		if it.Status == string(ApprovalPending) && a.Status != ApprovalPending {
			items = append(items, types.TransactWriteItem{Delete: d.deleteIfTarget(pendingKey(a.Principal, a.User, a.Profile), id)})
		}
		_, err := d.transact(ctx, op, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var c *cancelled
		switch {
		case err == nil:
			return a.at(now), nil
		case errors.As(err, &c) && c.failed(0):
			continue // written meanwhile: read again
		case errors.As(err, &c):
			return ApprovalRequest{}, unavailable(op, err)
		default:
			return ApprovalRequest{}, err
		}
	}
	return ApprovalRequest{}, unavailable(op, errors.New("too much contention"))
}

// OpenBreakGlass implements BreakGlass: the person's lock for the profile
// and the event in one transaction; the lock may replace only an expired
// one.
func (d *Dynamo) OpenBreakGlass(ctx context.Context, e BreakGlassEvent) (BreakGlassEvent, error) {
	now := d.opt.now()
	e, err := newBreakGlass(e, now)
	if err != nil {
		return BreakGlassEvent{}, err
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                 aws.String(d.table),
			Item:                      marshal(pointer(activeBGKey(e.Principal, e.User, e.Profile), kindActiveBG, e.ID, e.ExpiresAt)),
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
			ExpressionAttributeNames:  only("#pk", "#exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		}},
		{Put: d.putNew(marshal(e.item(d.opt.Retention)))},
	}}
	_, err = d.transact(ctx, "open break-glass", in)
	var c *cancelled
	switch {
	case err == nil:
		return e, nil
	case errors.As(err, &c) && c.failed(0):
		return BreakGlassEvent{}, fmt.Errorf("%w: a break-glass event for %s is active", ErrConflict, e.Profile)
	case errors.As(err, &c) && c.failed(1):
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event ID %s exists", ErrConflict, e.ID)
	case errors.As(err, &c):
		return BreakGlassEvent{}, unavailable("open break-glass", err)
	}
	return BreakGlassEvent{}, err
}

// GetBreakGlass implements BreakGlass.
func (d *Dynamo) GetBreakGlass(ctx context.Context, id string) (BreakGlassEvent, error) {
	var it breakGlassItem
	if err := d.get(ctx, "get break-glass", breakGlassKey(id), &it); err != nil {
		return BreakGlassEvent{}, err
	}
	return it.record().at(d.opt.now()), nil
}

// ActiveBreakGlass implements BreakGlass: one consistent read of the
// person's lock, which OpenBreakGlass writes and CloseBreakGlass deletes in
// the same transactions as the event, so an unexpired lock is an active
// event.
func (d *Dynamo) ActiveBreakGlass(ctx context.Context, principal, user, profile string) (BreakGlassEvent, error) {
	var lock pointerItem
	if err := d.get(ctx, "get break-glass lock", activeBGKey(principal, user, profile), &lock); err != nil {
		return BreakGlassEvent{}, err
	}
	if lock.ExpiresAt <= d.opt.now().Unix() || lock.Target == "" {
		return BreakGlassEvent{}, fmt.Errorf("%w: no active break-glass event for %s", ErrNotFound, profile)
	}
	return BreakGlassEvent{ID: lock.Target, Principal: principal, User: user, Profile: profile,
		Status: BreakGlassActive, ExpiresAt: time.Unix(lock.ExpiresAt, 0).UTC()}, nil
}

// ListBreakGlass implements BreakGlass (GSI2).
func (d *Dynamo) ListBreakGlass(ctx context.Context, f BreakGlassFilter) ([]BreakGlassEvent, error) {
	q := d.query(IndexGSI2, AttrGSI2PK, kindBreakGlass, AttrGSI2SK, kindBreakGlass+"#", "", f.Before.sk(kindBreakGlass))
	return listQuery(ctx, d, q, f.limit(), "list break-glass", func(it breakGlassItem) (BreakGlassEvent, bool) {
		e := it.record()
		return e.at(d.opt.now()), f.match(e, d.opt.now())
	})
}

// CloseBreakGlass implements BreakGlass: active -> closed, dropping the
// person's lock in the same transaction.
func (d *Dynamo) CloseBreakGlass(ctx context.Context, id, by, comment string) (BreakGlassEvent, error) {
	var it breakGlassItem
	if err := d.get(ctx, "close break-glass", breakGlassKey(id), &it); err != nil {
		return BreakGlassEvent{}, err
	}
	now := d.opt.now()
	e := it.record()
	if err := closeEvent(&e, by, comment, now); err != nil {
		return BreakGlassEvent{}, err
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                aws.String(d.table),
			Item:                     marshal(e.item(d.opt.Retention)),
			ConditionExpression:      aws.String("#status = :active AND #exp > :now"),
			ExpressionAttributeNames: only("#status", "#exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":active": str(string(BreakGlassActive)), ":now": num(now.Unix()),
			},
		}},
		{Delete: d.deleteIfTarget(activeBGKey(e.Principal, e.User, e.Profile), id)},
	}}
	_, err := d.transact(ctx, "close break-glass", in)
	var c *cancelled
	switch {
	case err == nil:
		return e, nil
	case errors.As(err, &c) && c.failed(0):
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event %s is no longer active", ErrConflict, id)
	case errors.As(err, &c):
		return BreakGlassEvent{}, unavailable("close break-glass", err)
	}
	return BreakGlassEvent{}, err
}

// PutIdempotency implements Idempotency: a put unless an unexpired record
// holds the key.
func (d *Dynamo) PutIdempotency(ctx context.Context, r IdempotencyRecord) error {
	now := d.opt.now()
	r, err := newIdempotency(r, now)
	if err != nil {
		return err
	}
	held, err := d.putIf(ctx, "put idempotency key", r.item(), "attribute_not_exists(#pk) OR #exp <= :now",
		map[string]types.AttributeValue{":now": num(now.Unix())}, "#pk", "#exp")
	if held {
		return fmt.Errorf("%w: idempotency key %q is used", ErrConflict, r.Key)
	}
	return err
}

// GetIdempotency implements Idempotency.
func (d *Dynamo) GetIdempotency(ctx context.Context, principal, user, k string) (IdempotencyRecord, error) {
	var it idemItem
	if err := d.get(ctx, "get idempotency key", idemKey(principal, user, k), &it); err != nil {
		return IdempotencyRecord{}, err
	}
	r := it.record()
	if !d.opt.now().Before(r.ExpiresAt) {
		return IdempotencyRecord{}, fmt.Errorf("%w: idempotency key %q", ErrNotFound, k)
	}
	return r, nil
}

// BlockVending implements Blocks: a put unless a block that ends later is
// in force.
func (d *Dynamo) BlockVending(ctx context.Context, b Block) error {
	b, err := newBlock(b, d.opt.now())
	if err != nil {
		return err
	}
	// When the condition fails, a longer block stands: nothing to do.
	_, err = d.putIf(ctx, "block vending", b.item(), "attribute_not_exists(#pk) OR #exp < :until",
		map[string]types.AttributeValue{":until": num(b.Until.Unix())}, "#pk", "#exp")
	return err
}

// GetBlock implements Blocks.
func (d *Dynamo) GetBlock(ctx context.Context, principal, user, profile string) (Block, error) {
	var it blockItem
	if err := d.get(ctx, "get block", blockKey(principal, user, profile), &it); err != nil {
		return Block{}, err
	}
	b := it.record()
	if !b.Until.After(d.opt.now()) {
		return Block{}, fmt.Errorf("%w: block for %s", ErrNotFound, profile)
	}
	return b, nil
}

// AcquireLease implements Leases: a put if the lease is free, lapsed or
// already owner's.
func (d *Dynamo) AcquireLease(ctx context.Context, name, owner string, until, now time.Time) error {
	if now.IsZero() {
		now = d.opt.Now()
	}
	until, now, err := checkLease(name, owner, until, now)
	if err != nil {
		return err
	}
	held, err := d.putIf(ctx, "acquire lease", newLeaseItem(name, owner, until, now), "attribute_not_exists(#pk) OR #exp < :now OR #owner = :owner",
		map[string]types.AttributeValue{":now": num(now.Unix()), ":owner": str(owner)}, "#pk", "#exp", "#owner")
	if held {
		return fmt.Errorf("%w: lease %s is held", ErrConflict, name)
	}
	return err
}

// ReleaseLease implements Leases: a delete if owner holds the lease.
func (d *Dynamo) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.table),
		Key:                       leaseKey(name).av(),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  only("#owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": str(owner)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) { // another owner's, or gone: fine
		return unavailable("release lease", err)
	}
	return nil
}

// putIf puts item when cond holds; failed reports that cond did not hold.
// Any other error is unavailable(op).
func (d *Dynamo) putIf(ctx context.Context, op string, item any, cond string, values map[string]types.AttributeValue, names ...string) (failed bool, err error) {
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(d.table),
		Item:                      marshal(item),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  only(names...),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return true, nil
	case err != nil:
		return false, unavailable(op, err)
	}
	return false, nil
}

// get reads one item with a strongly consistent read.
func (d *Dynamo) get(ctx context.Context, op string, k key, into any) error {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.table), Key: k.av(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return unavailable(op, err)
	}
	if len(out.Item) == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, k.pk)
	}
	if err := attributevalue.UnmarshalMap(out.Item, into); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// putNew puts an item that must not exist yet.
func (d *Dynamo) putNew(item map[string]types.AttributeValue) *types.Put {
	return &types.Put{
		TableName:                aws.String(d.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: only("#pk"),
	}
}

// deleteIfTarget deletes a pointer or lock if it still names target (or is
// already gone); one that names another item stays.
func (d *Dynamo) deleteIfTarget(k key, target string) *types.Delete {
	return &types.Delete{
		TableName:                 aws.String(d.table),
		Key:                       k.av(),
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #target = :target"),
		ExpressionAttributeNames:  only("#pk", "#target"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":target": str(target)},
	}
}

func (d *Dynamo) deletePointer(ctx context.Context, k key, target string) error {
	del := d.deleteIfTarget(k, target)
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: del.TableName, Key: del.Key, ConditionExpression: del.ConditionExpression,
		ExpressionAttributeNames: del.ExpressionAttributeNames, ExpressionAttributeValues: del.ExpressionAttributeValues,
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) { // replaced meanwhile: fine
		return unavailable("delete pointer", err)
	}
	return nil
}

// query builds a newest-first query of one index partition whose sort keys
// start with prefix (and, when from is set, are at least from).
//
// A cursor (the sort key of the last record of the previous page, or "")
// reads only the keys below it: BETWEEN the prefix (or from) and the
// cursor, whose every key starts with the prefix as the cursor does;
// listQuery drops the cursor's own record, which BETWEEN includes (a
// cursor below from reads the cursor's record alone, hence nothing).
func (d *Dynamo) query(index, pkAttr, pk, skAttr, prefix, from, cursor string) *dynamodb.QueryInput {
	cond := "#ipk = :pk AND begins_with(#isk, :prefix)"
	values := map[string]types.AttributeValue{":pk": str(pk), ":prefix": str(prefix)}
	lo := prefix
	if from != "" {
		cond = "#ipk = :pk AND #isk >= :from"
		values = map[string]types.AttributeValue{":pk": str(pk), ":from": str(from)}
		lo = from
	}
	if cursor != "" {
		lo = min(lo, cursor) // BETWEEN refuses a lower bound above the upper
		cond = "#ipk = :pk AND #isk BETWEEN :lo AND :cursor"
		values = map[string]types.AttributeValue{":pk": str(pk), ":lo": str(lo), ":cursor": str(cursor)}
	}
	return &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#ipk": pkAttr, "#isk": skAttr},
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
	}
}

// listQuery pages through q, keeping the items keep accepts, up to limit.
// Filters run here rather than in a FilterExpression so Dynamo and Memory
// share one definition of "active"; they read the same items either way.
func listQuery[I, R any](ctx context.Context, d *Dynamo, q *dynamodb.QueryInput, limit int, op string, keep func(I) (R, bool)) ([]R, error) {
	var out []R
	p := dynamodb.NewQueryPaginator(d.client, q)
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, unavailable(op, err)
		}
		for _, raw := range page.Items {
			if cursor, ok := q.ExpressionAttributeValues[":cursor"]; ok && equalAttr(raw[q.ExpressionAttributeNames["#isk"]], cursor) {
				continue // the previous page's last record
			}
			var it I
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, unavailable(op, err)
			}
			if r, ok := keep(it); ok && len(out) < limit {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// equalAttr reports whether two string attributes are equal.
func equalAttr(a, b types.AttributeValue) bool {
	as, ok1 := a.(*types.AttributeValueMemberS)
	bs, ok2 := b.(*types.AttributeValueMemberS)
	return ok1 && ok2 && as.Value == bs.Value
}

// cancelled is a transaction DynamoDB cancelled, with a reason per item.
type cancelled struct {
	reasons []types.CancellationReason
	err     error
}

func (c *cancelled) Error() string { return c.err.Error() }
func (c *cancelled) Unwrap() error { return c.err }

// failed reports whether item i's condition failed.
func (c *cancelled) failed(i int) bool {
	return i < len(c.reasons) && aws.ToString(c.reasons[i].Code) == "ConditionalCheckFailed"
}

// transact runs a transaction, retrying (with jitter) those cancelled only
// by conflicts with other transactions. It returns a *cancelled when a
// condition failed, and wraps other errors in ErrUnavailable.
func (d *Dynamo) transact(ctx context.Context, op string, in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
	for attempt := 1; ; attempt++ {
		out, err := d.client.TransactWriteItems(ctx, in)
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			if err != nil {
				return nil, unavailable(op, err)
			}
			return out, nil
		}
		c := &cancelled{reasons: tce.CancellationReasons, err: err}
		conflict := false
		for i, r := range c.reasons {
			if c.failed(i) {
				return nil, c
			}
			conflict = conflict || aws.ToString(r.Code) == "TransactionConflict"
		}
		if !conflict || attempt == maxAttempts {
			return nil, unavailable(op, err)
		}
		select {
		case <-ctx.Done():
			return nil, unavailable(op, ctx.Err())
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(20*time.Millisecond)))):
		}
	}
}
