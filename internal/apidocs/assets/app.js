// Renders the OpenAPI document named by main[data-spec] into the docs page.
// Plain DOM calls only: every text from the document goes through
// textContent, never innerHTML, and nothing is loaded from another origin.
'use strict';

(function () {
  const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace'];
  const STATUS_TEXT = {
    200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
    403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Content Too Large',
    415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests',
    500: 'Internal Server Error', 503: 'Service Unavailable', 507: 'Insufficient Storage',
  };
  let spec = {};

  // el builds an element: attrs sets attributes (class, href, id, ...),
  // children are nodes, strings (added as text) or nested arrays of them;
  // null ones are skipped.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // resolve follows a local JSON pointer such as #/components/schemas/Event.
  function resolve(ref) {
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
    let node = spec;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
      node = node[key];
    }
    return node;
  }

  // deref returns the object a $ref chain ends at.
  function deref(obj) {
    for (let i = 0; obj && typeof obj.$ref === 'string' && i < 32; i++) obj = resolve(obj.$ref);
    return obj || {};
  }

  const refName = (ref) => ref.split('/').pop();
  const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]+/g, '-');

  // inline renders `code` spans of a description line.
  function inline(text) {
    return String(text).split('`').map((part, i) => (i % 2 ? el('code', null, part) : part));
  }

  // prose renders a description: paragraphs split by blank lines, and
  // paragraphs whose lines all start with "- " as lists.
  function prose(text) {
    if (!text) return null;
    const out = el('div', { class: 'prose' });
    for (const para of String(text).split(/\n\s*\n/)) {
      const lines = para.split('\n');
      if (lines.every((l) => l.startsWith('- '))) {
        out.append(el('ul', null, lines.map((l) => el('li', null, inline(l.slice(2))))));
      } else {
        out.append(el('p', null, inline(para)));
      }
    }
    return out;
  }

  function typeLabel(s) {
    if (!s || typeof s !== 'object') return 'any';
    if (s.$ref) return refName(s.$ref);
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.allOf) return s.allOf.map(typeLabel).join(' & ');
    if (s.oneOf && s.oneOf.every((a) => a.const !== undefined)) return typeof s.oneOf[0].const;
    if (s.oneOf || s.anyOf) return (s.oneOf || s.anyOf).map(typeLabel).join(' | ');
    const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    const label = types.map((t) => (t === 'array' ? typeLabel(s.items) + '[]' : t)).join(' | ');
    return label || (s.properties ? 'object' : 'any');
  }

  function typeNode(s) {
    if (s && s.$ref && s.$ref.startsWith('#/components/schemas/')) {
      return el('a', { class: 'type', href: '#schema-' + slug(refName(s.$ref)) }, refName(s.$ref));
    }
    if (s && s.type === 'array' && s.items && s.items.$ref) {
      return el('span', { class: 'type' }, typeNode(s.items), '[]');
    }
    return el('span', { class: 'type' }, typeLabel(s));
  }

  // facts lists a schema's constraints as short strings.
  function facts(s) {
    s = deref(s);
    const f = [];
    const add = (cond, text) => { if (cond) f.push(text); };
    add(s.enum, 'one of: ' + (s.enum || []).map((v) => JSON.stringify(v)).join(', '));
    const consts = (s.oneOf || []).filter((a) => a.const !== undefined);
    add(consts.length && consts.length === s.oneOf.length, 'one of: ' + consts.map((a) => JSON.stringify(a.const)).join(', '));
    add(s.format, 'format: ' + s.format);
    add(s.pattern, 'pattern: ' + s.pattern);
    add(s.minLength !== undefined, 'min length ' + s.minLength);
    add(s.maxLength !== undefined, 'max length ' + s.maxLength);
    add(s.minimum !== undefined, 'min ' + s.minimum);
    add(s.maximum !== undefined, 'max ' + s.maximum);
    add(s.minItems !== undefined, 'min items ' + s.minItems);
    add(s.maxItems !== undefined, 'max items ' + s.maxItems);
    add(s.maxProperties !== undefined, 'max keys ' + s.maxProperties);
    add(s.default !== undefined, 'default ' + JSON.stringify(s.default));
    add(s.additionalProperties === false, 'no other fields');
    if (s.type === 'array' && s.items) f.push(...facts(s.items).map((x) => 'each: ' + x));
    return f;
  }

  function factList(s, own) {
    const f = facts(s);
    if (own && own.default !== undefined && deref(s).default === undefined) f.push('default ' + JSON.stringify(own.default));
    return f.length ? el('div', { class: 'facts' }, f.map((x) => el('span', null, x))) : null;
  }

  // nested returns the object schema worth expanding under a field, if any.
  function nested(s) {
    let d = deref(s);
    if (d.type === 'array' || (Array.isArray(d.type) && d.type.includes('array'))) d = deref(d.items);
    if (d.properties || (d.additionalProperties && typeof d.additionalProperties === 'object' && deref(d.additionalProperties).properties)) return d;
    return null;
  }

  // schemaView renders a schema; stack holds the $refs being expanded so
  // that a recursive schema stops instead of looping.
  function schemaView(schema, stack) {
    stack = stack || [];
    if (schema && schema.$ref) {
      if (stack.includes(schema.$ref)) return el('p', { class: 'muted' }, typeNode(schema), ' (see above)');
      const target = deref(schema);
      return el('div', { class: 'schema' },
        el('div', { class: 'schema-name' }, typeNode(schema)),
        prose(target.description),
        objectOrValue(target, stack.concat(schema.$ref)));
    }
    return el('div', { class: 'schema' }, prose(schema && schema.description), objectOrValue(schema || {}, stack));
  }

  // merged folds allOf into one object schema: the union of the parts'
  // properties and required fields.
  function merged(s) {
    const out = { type: 'object', properties: {}, required: [] };
    for (const part of s.allOf.map(deref)) {
      const p = part.allOf ? merged(part) : part;
      Object.assign(out.properties, p.properties || {});
      out.required.push(...(p.required || []));
    }
    return out;
  }

  function objectOrValue(s, stack) {
    if (s.allOf) return el('div', null, el('p', null, 'All fields of ', s.allOf.map((a, i) => [i ? ' and ' : '', typeNode(a)]), ':'), objectOrValue(merged(s), stack));
    const alts = (s.oneOf || []).every((a) => a.const !== undefined) ? s.anyOf : s.oneOf || s.anyOf;
    if (alts) {
      return el('div', null, el('p', null, s.oneOf ? 'One of:' : 'Any of:'), el('ol', null, alts.map((a) => el('li', null, schemaView(a, stack)))));
    }
    if (s.type === 'array' && s.items) {
      return el('div', null, el('p', null, 'An array of ', typeNode(s.items), '.'), factList(s), nested(s.items) ? schemaView(s.items, stack) : null);
    }
    const props = s.properties || {};
    const names = Object.keys(props);
    const extra = s.additionalProperties;
    if (!names.length && !(extra && typeof extra === 'object')) {
      return el('div', null, el('p', null, typeNode(s)), factList(s));
    }
    const required = new Set(s.required || []);
    const rows = names.map((name) => field(name, props[name], required.has(name), stack));
    if (extra && typeof extra === 'object') {
      rows.push(field(s.propertyNames ? '<key> (' + facts(s.propertyNames).join(', ') + ')' : '<key>', extra, false, stack));
    }
    return el('div', null, factList(s), el('table', { class: 'fields' },
      el('thead', null, el('tr', null, el('th', null, 'Field'), el('th', null, 'Type'), el('th', null, 'Description'))),
      el('tbody', null, rows)));
  }

  function field(name, s, required, stack) {
    const d = deref(s);
    const sub = nested(s);
    const ref = s.$ref || (s.items && s.items.$ref);
    const expand = sub && !(ref && stack.includes(ref));
    return el('tr', null,
      el('td', null, el('code', null, name), required ? el('span', { class: 'req', title: 'required' }, ' required') : null),
      el('td', null, typeNode(s)),
      el('td', null, prose(s.description || d.description), factList(s, s),
        expand ? el('details', { class: 'sub' }, el('summary', null, 'Fields of ' + name), objectOrValue(sub, ref ? stack.concat(ref) : stack)) : null));
  }

  function examplesView(media) {
    const items = [];
    if (media.example !== undefined) items.push(['Example', media.example]);
    for (const [name, ex] of Object.entries(media.examples || {})) {
      const e = deref(ex);
      items.push([e.summary || name, e.value]);
    }
    return items.map(([title, value]) => el('figure', { class: 'example' },
      el('figcaption', null, title),
      el('pre', null, el('code', null, typeof value === 'string' ? value : JSON.stringify(value, null, 2)))));
  }

  function contentView(content) {
    return Object.entries(content || {}).map(([type, media]) => el('div', { class: 'media' },
      el('div', { class: 'media-type' }, el('code', null, type)),
      media.schema ? schemaView(media.schema) : null,
      examplesView(media)));
  }

  function securityView(op) {
    const reqs = op.security !== undefined ? op.security : spec.security || [];
    if (!reqs.length) return el('p', { class: 'auth' }, el('strong', null, 'Authentication: '), 'none.');
    const schemes = (spec.components && spec.components.securitySchemes) || {};
    const alts = reqs.map((req) => Object.entries(req).map(([name, scopes]) => {
      const s = schemes[name] || {};
      let how = name;
      if (s.type === 'http' && s.scheme === 'bearer') how = 'Authorization: Bearer <' + (name === 'adminToken' ? 'admin token' : 'API key') + '>';
      else if (s.type === 'apiKey') how = s.name + ': <API key>';
      return el('span', null, el('code', null, how), scopes.length ? ' with scope ' + scopes.join(', ') : '');
    }));
    const parts = [];
    alts.forEach((a, i) => { if (i) parts.push(' or '); parts.push(...a); });
    return el('p', { class: 'auth' }, el('strong', null, 'Authentication: '), parts);
  }

  function paramsView(params) {
    if (!params.length) return null;
    return el('section', null, el('h4', null, 'Parameters'), el('table', { class: 'fields' },
      el('thead', null, el('tr', null, el('th', null, 'Name'), el('th', null, 'In'), el('th', null, 'Type'), el('th', null, 'Description'))),
      el('tbody', null, params.map((p) => el('tr', null,
        el('td', null, el('code', null, p.name), p.required ? el('span', { class: 'req' }, ' required') : null),
        el('td', null, p.in),
        el('td', null, typeNode(p.schema)),
        el('td', null, prose(p.description), factList(p.schema || {}),
          p.example !== undefined ? el('div', { class: 'facts' }, el('span', null, 'e.g. ' + exampleText(p))) : null))))));
  }

  function exampleText(p) {
    return Array.isArray(p.example) ? p.example.map((v) => p.name + '=' + v).join('&') : String(p.example);
  }

  function headersView(headers) {
    const names = Object.keys(headers || {});
    if (!names.length) return null;
    return el('table', { class: 'fields headers' },
      el('thead', null, el('tr', null, el('th', null, 'Header'), el('th', null, 'Type'), el('th', null, 'Description'))),
      el('tbody', null, names.map((n) => {
        const h = deref(headers[n]);
        return el('tr', null, el('td', null, el('code', null, n)), el('td', null, typeNode(h.schema)),
          el('td', null, prose(h.description), h.example !== undefined ? el('div', { class: 'facts' }, el('span', null, 'e.g. ' + h.example)) : null));
      })));
  }

  function responsesView(responses) {
    const codes = Object.keys(responses || {}).sort();
    return el('section', null, el('h4', null, 'Responses'), codes.map((code) => {
      const r = deref(responses[code]);
      const cls = 'status s' + code.charAt(0);
      return el('details', { class: 'response', open: code.startsWith('2') },
        el('summary', null, el('span', { class: cls }, code), ' ', STATUS_TEXT[code] || '', ' — ', inline(firstSentence(r.description))),
        prose(r.description), headersView(r.headers), contentView(r.content));
    }));
  }

  function firstSentence(s) {
    const m = String(s || '').match(/^.*?\.(?=\s|$)/);
    return m ? m[0] : String(s || '');
  }

  function operationView(path, method, op, pathItem) {
    const params = (pathItem.parameters || []).concat(op.parameters || []).map(deref);
    const id = 'op-' + slug(op.operationId || method + path);
    const body = op.requestBody ? deref(op.requestBody) : null;
    const node = el('details', { class: 'op', id },
      el('summary', null,
        el('span', { class: 'method m-' + method }, method.toUpperCase()), ' ',
        el('code', { class: 'path' }, path), ' ',
        el('span', { class: 'summary' }, op.summary || '')),
      el('div', { class: 'op-body' },
        prose(op.description),
        securityView(op),
        paramsView(params),
        body ? el('section', null, el('h4', null, 'Request body', body.required ? '' : ' (optional)'), prose(body.description), contentView(body.content)) : null,
        responsesView(op.responses)));
    node.dataset.search = [method, path, op.summary, op.operationId].join(' ').toLowerCase();
    return node;
  }

  function render() {
    const content = document.getElementById('content');
    const nav = document.getElementById('nav');
    const info = spec.info || {};
    document.title = info.title || document.title;
    document.getElementById('title').textContent = info.title || 'API';
    document.getElementById('version').textContent = info.version ? 'v' + info.version : '';

    const groups = new Map((spec.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    for (const [path, item] of Object.entries(spec.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!groups.has(tag)) groups.set(tag, { tag: { name: tag }, ops: [] });
        groups.get(tag).ops.push([path, method, op, item]);
      }
    }

    content.replaceChildren(el('section', { class: 'intro' }, info.summary ? el('p', { class: 'lead' }, info.summary) : null, prose(info.description)));
    nav.replaceChildren();
    for (const { tag, ops } of groups.values()) {
      if (!ops.length) continue;
      const section = el('section', { class: 'group', id: 'tag-' + slug(tag.name) },
        el('h2', null, tag.name), prose(tag.description), ops.map((o) => operationView(...o)));
      content.append(section);
      nav.append(el('div', { class: 'nav-group' },
        el('a', { class: 'nav-tag', href: '#tag-' + slug(tag.name) }, tag.name),
        el('ul', null, ops.map(([path, method, op]) => el('li', { 'data-search': [method, path, op.summary, op.operationId].join(' ').toLowerCase() },
          el('a', { href: '#op-' + slug(op.operationId || method + path) },
            el('span', { class: 'method m-' + method }, method.toUpperCase()), ' ', el('span', { class: 'nav-path' }, path)))))));
    }

    const problems = problemTypes();
    if (problems) {
      content.append(problems);
      nav.append(el('div', { class: 'nav-group' }, el('a', { class: 'nav-tag', href: '#problems' }, 'problem types')));
    }

    const schemas = (spec.components && spec.components.schemas) || {};
    const names = Object.keys(schemas);
    if (names.length) {
      content.append(el('section', { class: 'group', id: 'schemas' }, el('h2', null, 'Schemas'),
        names.map((n) => el('details', { class: 'op schema-def', id: 'schema-' + slug(n) },
          el('summary', null, el('code', { class: 'path' }, n)),
          el('div', { class: 'op-body' }, schemaView({ $ref: '#/components/schemas/' + n }),
            examplesView({ examples: Object.fromEntries((schemas[n].examples || []).map((v, i) => ['Example ' + (i + 1), { value: v }])) }))))));
      nav.append(el('div', { class: 'nav-group' }, el('a', { class: 'nav-tag', href: '#schemas' }, 'schemas')));
    }
    openTarget();
  }

  // problemTypes lists the values of Problem.type, each under the id its
  // URL fragment names (a problem's type "/docs#problem-invalid" links here).
  function problemTypes() {
    const schema = deref({ $ref: '#/components/schemas/Problem' });
    const types = deref(schema.properties && schema.properties.type).oneOf || [];
    const entries = types.filter((t) => typeof t.const === 'string' && t.const.includes('#'));
    if (!entries.length) return null;
    return el('section', { class: 'group', id: 'problems' }, el('h2', null, 'Problem types'),
      prose('Every error is an `application/problem+json` document (see the Problem schema) whose `type` is one of these.'),
      el('dl', { class: 'problems' }, entries.map((t) => [
        el('dt', { id: t.const.split('#')[1] }, el('code', null, t.const), ' ', t.title || ''),
        el('dd', null, prose(t.description))])));
  }

  // openTarget opens and shows the operation or schema the URL's hash names.
  function openTarget() {
    const id = decodeURIComponent(location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (!target) return;
    if (target.tagName === 'DETAILS') target.open = true;
    target.scrollIntoView();
  }

  function filter(query) {
    query = query.trim().toLowerCase();
    for (const node of document.querySelectorAll('[data-search]')) {
      node.hidden = query !== '' && !node.dataset.search.includes(query);
    }
    for (const group of document.querySelectorAll('.group, .nav-group')) {
      if (group.id === 'schemas' || !group.querySelector('[data-search]')) continue;
      group.hidden = !group.querySelector('[data-search]:not([hidden])');
    }
  }

  async function main() {
    const content = document.getElementById('content');
    try {
      const res = await fetch(content.dataset.spec, { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
      spec = await res.json();
      render();
    } catch (err) {
      content.replaceChildren(el('p', { class: 'notice error' }, 'Could not load the API description: ' + err.message));
      return;
    }
    window.addEventListener('hashchange', openTarget);
    document.getElementById('filter').addEventListener('input', (e) => filter(e.target.value));
  }

  document.addEventListener('DOMContentLoaded', main);
})();
