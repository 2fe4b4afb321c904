package apidoc

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// GatewayPath is the body API Gateway imports (api.tf), derived from
// DocumentPath by Gateway; `make docs` rewrites it and a test checks that it
// is current.
const GatewayPath = "api/openapi.gateway.yaml"

// gatewayHeader opens the derived document.
const gatewayHeader = `# Generated from api/openapi.yaml by tools/apidoc (make docs): do not edit.
# The body API Gateway imports. API Gateway only routes, authenticates
# (AWS_IAM) and proxies to the function, which validates every request
# itself; its models support a subset of JSON Schema draft 4, so this copy
# inlines every $ref to components and reduces every schema to its type
# (objects to {type: object}): no oneOf/allOf/anyOf, no links, no examples.
# A Terraform template like its source (api.tf renders it).
`

// Gateway derives the API Gateway import body from the document's template
// source (it stays a template: ${...} strings pass through unchanged).
func Gateway(src []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", DocumentPath, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", DocumentPath)
	}
	doc := root.Content[0]
	components := get(doc, "components")
	g := &gateway{components: components}
	paths := get(doc, "paths")
	if paths == nil {
		return nil, fmt.Errorf("%s: no paths", DocumentPath)
	}
	if err := g.walk(paths, ""); err != nil {
		return nil, err
	}
	// Everything was inlined: only the security schemes stay.
	if components != nil {
		kept := &yaml.Node{Kind: yaml.MappingNode}
		if s := get(components, "securitySchemes"); s != nil {
			kept.Content = append(kept.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "securitySchemes"}, s)
		}
		set(doc, "components", kept)
	}
	stripComments(doc)
	var buf bytes.Buffer
	buf.WriteString(gatewayHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type gateway struct {
	components *yaml.Node
}

// walk rewrites n in place: component $refs inlined, schemas reduced, links
// and examples dropped. key is n's key in its parent.
func (g *gateway) walk(n *yaml.Node, key string) error {
	switch n.Kind {
	case yaml.MappingNode:
		if ref := get(n, "$ref"); ref != nil && key != "schema" {
			target, err := g.resolve(ref.Value)
			if err != nil {
				return err
			}
			*n = *deepCopy(target)
			return g.walk(n, key)
		}
		out := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "links", "example", "examples":
				continue
			case "schema":
				s, err := g.reduce(v)
				if err != nil {
					return err
				}
				out = append(out, k, s)
				continue
			}
			if err := g.walk(v, k.Value); err != nil {
				return err
			}
			out = append(out, k, v)
		}
		n.Content = out
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := g.walk(c, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve finds "#/components/KIND/NAME".
func (g *gateway) resolve(ref string) (*yaml.Node, error) {
	parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	if len(parts) != 3 || parts[0] != "components" || g.components == nil {
		return nil, fmt.Errorf("%s: unsupported $ref %q", DocumentPath, ref)
	}
	kind := get(g.components, parts[1])
	if kind == nil || get(kind, parts[2]) == nil {
		return nil, fmt.Errorf("%s: $ref %q: no such component", DocumentPath, ref)
	}
	return get(kind, parts[2]), nil
}

// reduce is a schema API Gateway's models fully support: a scalar type with
// its enum, format and pattern, an array of such, or an object.
func (g *gateway) reduce(s *yaml.Node) (*yaml.Node, error) {
	for depth := 0; s.Kind == yaml.MappingNode && get(s, "$ref") != nil; depth++ {
		if depth > 10 {
			return nil, fmt.Errorf("%s: $ref cycle at %s", DocumentPath, get(s, "$ref").Value)
		}
		t, err := g.resolve(get(s, "$ref").Value)
		if err != nil {
			return nil, err
		}
		s = t
	}
	out := &yaml.Node{Kind: yaml.MappingNode}
	typ := get(s, "type")
	switch {
	case typ != nil && typ.Kind == yaml.ScalarNode && typ.Value != "object" && typ.Value != "array":
		out.Content = append(out.Content, scalar("type"), scalar(typ.Value))
		for _, k := range []string{"format", "pattern", "enum", "minLength", "maxLength", "minimum", "maximum"} {
			if v := get(s, k); v != nil {
				out.Content = append(out.Content, scalar(k), deepCopy(v))
			}
		}
	case typ != nil && typ.Value == "array":
		items := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("type"), scalar("object")}}
		if it := get(s, "items"); it != nil {
			r, err := g.reduce(it)
			if err != nil {
				return nil, err
			}
			items = r
		}
		out.Content = append(out.Content, scalar("type"), scalar("array"), scalar("items"), items)
	default:
		out.Content = append(out.Content, scalar("type"), scalar("object"))
	}
	return out, nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = deepCopy(x)
	}
	return &c
}

// stripComments drops the source's comments: they describe the source.
func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}
