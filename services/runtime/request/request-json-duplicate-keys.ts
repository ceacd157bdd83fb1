// Repeated keys in a JSON text: JSON.parse keeps the last of them without a word, so the strict
// JSON reader (request-json.ts) finds them in the text itself and refuses them (DUPLICATE_FIELD).
import { child } from "./request-json-values.js";

/**
 * duplicateKeys lists the paths of object keys that a JSON text repeats inside one object (JSON.parse
 * keeps the last silently). `text` must be valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  type Frame = { object: true; seen: Set<string>; key: string; path: string } | { object: false; index: number; path: string };
  const out: string[] = [];
  const stack: Frame[] = [];
  let expectKey = false;
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return "";
    return top.object ? child(top.path, top.key) : `${top.path}[${top.index}]`;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{") {
      stack.push({ object: true, seen: new Set(), key: "", path: valuePath() });
      expectKey = true;
    } else if (ch === "[") {
      stack.push({ object: false, index: 0, path: valuePath() });
      expectKey = false;
    } else if (ch === "}" || ch === "]") {
      stack.pop();
      expectKey = false;
    } else if (ch === ",") {
      const top = stack[stack.length - 1];
      if (top && !top.object) top.index++;
      expectKey = top?.object === true;
    } else if (ch === ":") {
      expectKey = false;
    } else if (ch === '"') {
      const open = i;
      let escaped = false;
      for (i++; text[i] !== '"'; i++) {
        if (text[i] === "\\") {
          escaped = true;
          i++;
        }
      }
      const top = stack[stack.length - 1];
      if (expectKey && top?.object) {
        const name = escaped ? (JSON.parse(text.slice(open, i + 1)) as string) : text.slice(open + 1, i);
        if (top.seen.has(name)) out.push(child(top.path, name));
        top.seen.add(name);
        top.key = name;
        expectKey = false;
      }
    }
  }
  return out;
}
