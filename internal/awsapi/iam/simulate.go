package iam

import (
	"context"
	"fmt"
	"sort"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/iam"
)

func simulationInput(p awsapi.Params) iam.SimulationInput {
	in := iam.SimulationInput{
		Policies:       p.List("PolicyInputList"),
		Boundaries:     p.List("PermissionsBoundaryPolicyInputList"),
		Actions:        p.List("ActionNames"),
		Resources:      p.List("ResourceArns"),
		ResourcePolicy: p.Get("ResourcePolicy"),
		ResourceOwner:  p.Get("ResourceOwner"),
		CallerARN:      p.Get("CallerArn"),
	}
	for _, e := range p.Structs("ContextEntries") {
		in.Context = append(in.Context, iam.ContextEntry{
			Key: e.Get("ContextKeyName"), Values: e.List("ContextKeyValues"), Type: e.Get("ContextKeyType"),
		})
	}
	return in
}

type xmlPosition struct {
	Line   int `xml:"Line"`
	Column int `xml:"Column"`
}

type xmlStatement struct {
	SourcePolicyID   string       `xml:"SourcePolicyId"`
	SourcePolicyType string       `xml:"SourcePolicyType"`
	StartPosition    *xmlPosition `xml:"StartPosition,omitempty"`
	EndPosition      *xmlPosition `xml:"EndPosition,omitempty"`
}

type xmlEntry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xmlDetails struct {
	Entries []xmlEntry `xml:"entry"`
}

type xmlBoundaryDetail struct {
	AllowedByPermissionsBoundary bool `xml:"AllowedByPermissionsBoundary"`
}

type xmlResourceResult struct {
	EvalResourceName                  string             `xml:"EvalResourceName"`
	EvalResourceDecision              string             `xml:"EvalResourceDecision"`
	MatchedStatements                 statementList      `xml:"MatchedStatements"`
	MissingContextValues              stringList         `xml:"MissingContextValues"`
	EvalDecisionDetails               *xmlDetails        `xml:"EvalDecisionDetails,omitempty"`
	PermissionsBoundaryDecisionDetail *xmlBoundaryDetail `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
}

type statementList struct {
	Members []xmlStatement `xml:"member"`
}

type xmlEvalResult struct {
	EvalActionName                    string             `xml:"EvalActionName"`
	EvalResourceName                  string             `xml:"EvalResourceName"`
	EvalDecision                      string             `xml:"EvalDecision"`
	MatchedStatements                 statementList      `xml:"MatchedStatements"`
	MissingContextValues              stringList         `xml:"MissingContextValues"`
	PermissionsBoundaryDecisionDetail *xmlBoundaryDetail `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
	EvalDecisionDetails               *xmlDetails        `xml:"EvalDecisionDetails,omitempty"`
	ResourceSpecificResults           *struct {
		Members []xmlResourceResult `xml:"member"`
	} `xml:"ResourceSpecificResults,omitempty"`
}

type simulateResult struct {
	EvaluationResults struct {
		Members []xmlEvalResult `xml:"member"`
	} `xml:"EvaluationResults"`
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

func evalResultXML(e iam.EvalResult) xmlEvalResult {
	x := xmlEvalResult{EvalActionName: e.Action, EvalResourceName: e.Resource, EvalDecision: e.Decision}
	for _, m := range e.Matched {
		s := xmlStatement{SourcePolicyID: m.SourcePolicyID, SourcePolicyType: m.SourcePolicyType}
		if m.Start != nil && m.End != nil {
			s.StartPosition = &xmlPosition{m.Start.Line, m.Start.Column}
			s.EndPosition = &xmlPosition{m.End.Line, m.End.Column}
		}
		x.MatchedStatements.Members = append(x.MatchedStatements.Members, s)
	}
	x.MissingContextValues.Members = e.Missing
	if e.AllowedByBoundary != nil {
		x.PermissionsBoundaryDecisionDetail = &xmlBoundaryDetail{*e.AllowedByBoundary}
	}
	if e.Details != nil {
		d := &xmlDetails{}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Entries = append(d.Entries, xmlEntry{k, e.Details[k]})
		}
		x.EvalDecisionDetails = d
	}
	if e.ResourceSpecific {
		x.ResourceSpecificResults = &struct {
			Members []xmlResourceResult `xml:"member"`
		}{[]xmlResourceResult{{
			EvalResourceName: e.Resource, EvalResourceDecision: e.Decision, MatchedStatements: x.MatchedStatements,
			MissingContextValues: x.MissingContextValues, EvalDecisionDetails: x.EvalDecisionDetails,
			PermissionsBoundaryDecisionDetail: x.PermissionsBoundaryDecisionDetail,
		}}}
	}
	return x
}

func simulateXML(p awsapi.Params, results []iam.EvalResult) (any, error) {
	type indexed struct {
		i int
		e iam.EvalResult
	}
	all := make([]indexed, len(results))
	for i, e := range results {
		all[i] = indexed{i, e}
	}
	pg, truncated, marker, err := page(p, all, func(x indexed) string { return fmt.Sprintf("%08d", x.i) })
	if err != nil {
		return nil, err
	}
	out := &simulateResult{IsTruncated: truncated, Marker: marker}
	for _, x := range pg {
		out.EvaluationResults.Members = append(out.EvaluationResults.Members, evalResultXML(x.e))
	}
	return out, nil
}

func (h *handlers) simulateCustom(ctx context.Context, r *awsapi.Request) (any, error) {
	res, err := h.dir.SimulateCustomPolicy(ctx, caller(r), simulationInput(r.Params))
	if err != nil {
		return nil, err
	}
	return simulateXML(r.Params, res)
}

func (h *handlers) simulatePrincipal(ctx context.Context, r *awsapi.Request) (any, error) {
	res, err := h.dir.SimulatePrincipalPolicy(ctx, caller(r), r.Params.Get("PolicySourceArn"), simulationInput(r.Params))
	if err != nil {
		return nil, err
	}
	return simulateXML(r.Params, res)
}
