// A layered (Sugiyama-style) drawing of a directed graph, left to right, as SVG:
//   1. layers by longest path from the sources (a cycle, which a DAG never has, is broken by
//      reversing the edges that close it), then each source moved next to its first consumer;
//   2. an edge that spans several layers gets a dummy node in each layer it crosses;
//   3. each layer is ordered by barycenter sweeps, down then up, keeping the order with the
//      fewest crossings;
//   4. y positions are pulled toward each node's neighbours, then spaced apart;
//   5. edges are cubic curves through their dummy points.
// Used for a DAG's tasks and for dataset lineage.

import {append, s} from './dom.js';

const NODE_H = 40, GAP_X = 56, GAP_Y = 14, DUMMY_H = 6, MARGIN = 12, CHAR_W = 7.1, SUB_W = 6.3;
const SWEEPS = 6;

// nodes: [{id, label, sub?}], edges: [{from, to}]. Returns {nodes: Map(id -> {node, x, y, w,
// h, layer, order}), edges: [{from, to, points}], width, height}.
export function layout(nodes, edges) {
  const byId = new Map();
  for (const n of nodes) {
    if (byId.has(n.id)) continue;
    const text = Math.max(n.label.length * CHAR_W, n.sub ? n.sub.length * SUB_W : 0);
    const w = Math.min(260, Math.max(96, Math.round(text + 24)));
    byId.set(n.id, {node: n, id: n.id, w, h: NODE_H, dummy: false, preds: [], succs: []});
  }
  // Known, distinct, not self edges.
  const seen = new Set();
  const real = [];
  for (const e of edges) {
    const key = `${e.from}\u0000${e.to}`;
    if (e.from === e.to || seen.has(key) || !byId.has(e.from) || !byId.has(e.to)) continue;
    seen.add(key);
    real.push({from: e.from, to: e.to, reversed: false});
  }
  breakCycles(byId, real);
  for (const e of real) {
    const [a, b] = e.reversed ? [e.to, e.from] : [e.from, e.to];
    byId.get(a).succs.push(b);
    byId.get(b).preds.push(a);
  }

  // 1. Longest-path layering, in a topological order (Kahn).
  const indeg = new Map([...byId.values()].map((v) => [v.id, v.preds.length]));
  const queue = [...byId.values()].filter((v) => v.preds.length === 0).map((v) => v.id);
  const layerOf = new Map();
  for (let i = 0; i < queue.length; i++) {
    const v = byId.get(queue[i]);
    const layer = v.preds.reduce((m, p) => Math.max(m, layerOf.get(p) + 1), 0);
    layerOf.set(v.id, layer);
    for (const w of v.succs) {
      indeg.set(w, indeg.get(w) - 1);
      if (indeg.get(w) === 0) queue.push(w);
    }
  }
  // A source sits just before its nearest consumer rather than in the first layer: the same
  // number of layers, shorter edges (a DAG's second input, a lineage graph's files).
  for (const v of byId.values()) {
    if (v.preds.length === 0 && v.succs.length > 0) {
      layerOf.set(v.id, Math.min(...v.succs.map((w) => layerOf.get(w))) - 1);
    }
  }
  const layerCount = Math.max(0, ...layerOf.values()) + 1;

  // 2. Dummy nodes along long edges; `chain` keeps each edge's path of node ids.
  const graph = new Map([...byId].map(([id, v]) => [id, {...v, preds: [], succs: []}]));
  const link = (a, b) => { graph.get(a).succs.push(b); graph.get(b).preds.push(a); };
  let dummies = 0;
  const paths = real.map((e) => {
    const [a, b] = e.reversed ? [e.to, e.from] : [e.from, e.to];
    const chain = [a];
    for (let l = layerOf.get(a) + 1; l < layerOf.get(b); l++) {
      const id = `\u0000d${dummies++}`;
      graph.set(id, {id, w: 0, h: DUMMY_H, dummy: true, preds: [], succs: []});
      layerOf.set(id, l);
      chain.push(id);
    }
    chain.push(b);
    for (let i = 1; i < chain.length; i++) link(chain[i - 1], chain[i]);
    return {edge: e, chain};
  });

  // 3. Ordering: first by a depth-first walk from the sources (nodes in input order), then
  // barycenter sweeps.
  const layers = Array.from({length: layerCount}, () => []);
  const placed = new Set();
  const visit = (id) => {
    if (placed.has(id)) return;
    placed.add(id);
    layers[layerOf.get(id)].push(id);
    for (const w of graph.get(id).succs) visit(w);
  };
  for (const n of byId.values()) if (n.preds.length === 0) visit(n.id);
  for (const id of graph.keys()) visit(id);

  const pos = new Map();
  const index = () => layers.forEach((layer) => layer.forEach((id, i) => pos.set(id, i)));
  index();
  let best = layers.map((l) => [...l]);
  let bestCrossings = crossings(layers, graph, pos);
  for (let sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? range(1, layerCount) : range(layerCount - 2, -1, -1);
    for (const l of order) {
      const bary = new Map();
      for (const id of layers[l]) {
        const ns = down ? graph.get(id).preds : graph.get(id).succs;
        bary.set(id, ns.length ? mean(ns.map((n) => pos.get(n))) : pos.get(id));
      }
      layers[l].sort((a, b) => bary.get(a) - bary.get(b) || pos.get(a) - pos.get(b));
      layers[l].forEach((id, i) => pos.set(id, i));
    }
    const c = crossings(layers, graph, pos);
    if (c < bestCrossings) { bestCrossings = c; best = layers.map((l) => [...l]); }
  }
  layers.splice(0, layers.length, ...best);
  index();

  // 4. Coordinates: x by layer; y stacked, then pulled toward the neighbours' centres.
  const xOf = [];
  let x = MARGIN;
  for (const layer of layers) {
    xOf.push(x);
    x += Math.max(0, ...layer.map((id) => graph.get(id).w)) + GAP_X;
  }
  const y = new Map();
  for (const layer of layers) {
    let top = MARGIN;
    for (const id of layer) { y.set(id, top); top += graph.get(id).h + GAP_Y; }
  }
  const centre = (id) => y.get(id) + graph.get(id).h / 2;
  for (let pass = 0; pass < 8; pass++) {
    const down = pass % 2 === 0;
    const order = down ? range(1, layerCount) : range(layerCount - 2, -1, -1);
    for (const l of order) {
      const layer = layers[l];
      const want = layer.map((id) => {
        const ns = down ? graph.get(id).preds : graph.get(id).succs;
        const v = graph.get(id);
        return ns.length ? mean(ns.map(centre)) - v.h / 2 : y.get(id);
      });
      // Keep the order and the spacing: push down where they would overlap, then shift the
      // whole layer so that it sits, on average, where its nodes want to be.
      const got = [];
      layer.forEach((id, i) => {
        const min = i === 0 ? -Infinity : got[i - 1] + graph.get(layer[i - 1]).h + GAP_Y;
        got.push(Math.max(want[i], min));
      });
      const shift = layer.reduce((sum, id, i) => sum + want[i] - got[i], 0) / (layer.length || 1);
      layer.forEach((id, i) => y.set(id, got[i] + shift));
    }
  }
  const minY = Math.min(...y.values());
  for (const [id, v] of y) y.set(id, v - minY + MARGIN);

  const out = new Map();
  let width = 0, height = 0;
  layers.forEach((layer, l) => layer.forEach((id, order) => {
    const v = graph.get(id);
    const w = v.dummy ? 0 : v.w;
    const px = v.dummy ? xOf[l] + Math.max(0, ...layer.map((n) => graph.get(n).w)) / 2 : xOf[l];
    width = Math.max(width, px + w + MARGIN);
    height = Math.max(height, y.get(id) + v.h + MARGIN);
    if (!v.dummy) out.set(id, {node: v.node, x: px, y: y.get(id), w, h: v.h, layer: l, order});
    else out.set(id, {dummy: true, x: px, y: y.get(id), w: 0, h: v.h, layer: l, order});
  }));

  // 5. Edge points: from the right of the source, through the dummies, to the left of the target.
  const edgesOut = paths.map(({edge, chain}) => {
    const pts = chain.map((id, i) => {
      const p = out.get(id);
      const cy = p.y + p.h / 2;
      if (i === 0) return [p.x + p.w, cy];
      if (i === chain.length - 1) return [p.x, cy];
      return [p.x, cy];
    });
    if (edge.reversed) pts.reverse();
    return {from: edge.from, to: edge.to, points: pts, reversed: edge.reversed};
  });
  for (const id of [...out.keys()]) if (out.get(id).dummy) out.delete(id);
  return {nodes: out, edges: edgesOut, width: Math.max(width, 120), height: Math.max(height, 60)};
}

// The nodes' ids in drawing order: by layer, then top to bottom. A DAG's tasks in this order
// read upstream first.
export function readingOrder(result) {
  return [...result.nodes.entries()]
    .sort(([, a], [, b]) => a.layer - b.layer || a.y - b.y)
    .map(([id]) => id);
}

const mean = (xs) => xs.reduce((sum, x) => sum + x, 0) / xs.length;

function range(from, to, step = 1) {
  const out = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
  return out;
}

// Edges that close a cycle (to a node still on the depth-first stack) are marked reversed.
function breakCycles(byId, edges) {
  const out = new Map([...byId.keys()].map((id) => [id, []]));
  for (const e of edges) out.get(e.from).push(e);
  const state = new Map();  // 1 on the stack, 2 done
  for (const start of byId.keys()) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = out.get(top[0]);
      if (top[1] >= list.length) { state.set(top[0], 2); stack.pop(); continue; }
      const e = list[top[1]++];
      const st = state.get(e.to);
      if (st === 1) e.reversed = true;
      else if (!st) { state.set(e.to, 1); stack.push([e.to, 0]); }
    }
  }
}

// Edge crossings between consecutive layers (each pair of edges, fine for the graphs drawn here).
function crossings(layers, graph, pos) {
  let count = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const es = [];
    for (const a of layers[l]) {
      for (const b of graph.get(a).succs) es.push([pos.get(a), pos.get(b)]);
    }
    if (es.length > 3000) return 0;  // too big to count: keep the first order that came
    for (let i = 0; i < es.length; i++) {
      for (let j = i + 1; j < es.length; j++) {
        if ((es[i][0] - es[j][0]) * (es[i][1] - es[j][1]) < 0) count++;
      }
    }
  }
  return count;
}

// A curve through `points`: each step a cubic with horizontal tangents.
function curve(points) {
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1], [x1, y1] = points[i];
    const dx = (x1 - x0) / 2;
    d += ` C${x0 + dx},${y0} ${x1 - dx},${y1} ${x1},${y1}`;
  }
  return d;
}

let svgCounter = 0;

// An SVG drawing of a layout. `nodeAttrs(node)` gives each node's attributes (data-*, and a
// class added to "node"),
// `href(node)` makes it a link, `ariaLabel` names the drawing.
export function drawGraph(result, {nodeAttrs = () => ({}), href = () => null, ariaLabel = 'graph',
  testid = 'graph', highlight = null} = {}) {
  const marker = `arrow${++svgCounter}`;
  const svg = s('svg', {
    class: 'graph', 'data-testid': testid, role: 'group', 'aria-label': ariaLabel,
    width: Math.ceil(result.width), height: Math.ceil(result.height),
    viewBox: `0 0 ${Math.ceil(result.width)} ${Math.ceil(result.height)}`,
  });
  svg.append(s('defs', {}, s('marker', {id: marker, viewBox: '0 0 10 10', refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse'},
  s('path', {d: 'M0,0 L10,5 L0,10 z', class: 'arrow'}))));
  const edgeGroup = s('g', {class: 'edges'});
  for (const e of result.edges) {
    edgeGroup.append(s('path', {d: curve(e.points), class: 'edge', 'data-from': e.from,
      'data-to': e.to, 'marker-end': `url(#${marker})`}));
  }
  svg.append(edgeGroup);
  const nodeGroup = s('g', {class: 'nodes'});
  for (const [id, p] of result.nodes) {
    const n = p.node;
    const link = href(n);
    const extra = nodeAttrs(n);
    const attrs = {'data-testid': 'graph-node', transform: `translate(${p.x},${p.y})`, ...extra,
      class: ['node', id === highlight ? 'node-root' : '', extra.class || ''].join(' ').trim()};
    const g = link ? s('a', {href: link, ...attrs}) : s('g', attrs);
    const maxChars = Math.floor((p.w - 20) / CHAR_W);
    const cut = (t, m) => (t.length > m ? `${t.slice(0, Math.max(1, m - 1))}…` : t);
    append(g, [
      s('title', {}, n.title || `${n.label}${n.sub ? ` (${n.sub})` : ''}`),
      s('rect', {width: p.w, height: p.h, rx: 6, ry: 6}),
      n.sub
        ? [s('text', {x: 10, y: 17, class: 'label'}, cut(n.label, maxChars)),
          s('text', {x: 10, y: 32, class: 'sub'}, cut(n.sub, Math.floor((p.w - 20) / SUB_W)))]
        : s('text', {x: 10, y: p.h / 2 + 4, class: 'label'}, cut(n.label, maxChars))]);
    nodeGroup.append(g);
  }
  svg.append(nodeGroup);
  return svg;
}
