/** SVG checks for the report tests: well-formedness (a small XML tokenizer) and counting vega's marks. */

/** Throws unless `svg` is well-formed XML with an <svg> root (balanced tags, quoted attributes, no stray '<'). */
export function assertWellFormedSvg(svg: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>/g;
  let last = 0;
  let root: string | undefined;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (between.includes('<')) throw new Error(`malformed markup near offset ${last}: ${between.slice(0, 80)}`);
    last = re.lastIndex;
    if (m[2] === undefined) continue;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? 'nothing'}>`);
    } else if (!selfClose) {
      if (stack.length === 0 && root !== undefined) throw new Error('more than one root element');
      root ??= name;
      stack.push(name!);
    } else {
      root ??= name;
    }
  }
  if (svg.slice(last).includes('<')) throw new Error('malformed markup at the end');
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (root !== 'svg') throw new Error(`root element is <${root}>, not <svg>`);
}

/** The mark groups vega wrote for a mark type (`line`, `area`, `rect`, `rule`, `symbol`, `text`), in order. */
export function markGroups(svg: string, type: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>`, 'g');
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    // The group's content up to its closing tag (mark groups hold only leaf elements).
    const end = svg.indexOf('</g>', re.lastIndex);
    out.push(svg.slice(re.lastIndex, end));
  }
  return out;
}

/** Leaf elements (<path>, <line>, ...) in a mark group's content. */
export function countElements(group: string, tag: string): number {
  return (group.match(new RegExp(`<${tag}[\\s>/]`, 'g')) ?? []).length;
}
