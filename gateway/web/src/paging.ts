// Lists longer than a page: every List RPC answers one page and a next_page_token, and a list that
// reads only the first page silently drops the rest (a clinic's 101st provider, 501st queue). By what
// the list is for: listAll follows the tokens to the end, for what a screen must hold whole (the
// providers and queues to choose from, a provider's day, the lock count); usePagedList shows a List
// RPC one page at a time with Previous and Next (backups, one's appointments ahead); usePages does the
// same for a list held whole (the locks, today's appointments of every provider). The Pager in ui.tsx
// draws the Previous / Next buttons of both.
import { useEffect, useState } from "react";
import { useAsync, type AsyncState } from "./ui.js";

/** Page is one answer of a List RPC. */
export interface Page<T> {
  /** items are the page's rows. */
  items: T[];
  /** nextPageToken is empty on the last page. */
  nextPageToken: string;
}

/** Listed is a list read to its end, or to `maxPages` pages. */
export interface Listed<T> {
  /** items are the rows read. */
  items: T[];
  /** complete is false when `maxPages` was reached before the last page: the screen says so. */
  complete: boolean;
  /** calls is how many pages were asked for. */
  calls: number;
}

/** MAX_PAGES bounds listAll: 40 pages of 500 rows is more than a screen can show, and never an endless loop. */
export const MAX_PAGES = 40;

/** listAll follows next_page_token from the first page to the last (or to `maxPages`). */
export async function listAll<T>(fetchPage: (pageToken: string) => Promise<Page<T>>, maxPages = MAX_PAGES): Promise<Listed<T>> {
  const items: T[] = [];
  let pageToken = "";
  for (let calls = 1; ; calls++) {
    const page = await fetchPage(pageToken);
    items.push(...page.items);
    if (!page.nextPageToken) return { items, complete: true, calls };
    if (calls >= maxPages || page.nextPageToken === pageToken) return { items, complete: false, calls };
    pageToken = page.nextPageToken;
  }
}

/** mapLimit runs `fn` over `items` with at most `limit` calls at once, keeping their order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** PagedList is a list shown one page at a time, with Previous and Next. */
export interface PagedList<T> extends Omit<AsyncState<Page<T>>, "data"> {
  /** items are the rows of the page shown. */
  items?: T[];
  /** page is the page shown, counting from 1. */
  page: number;
  /** hasNext is true when a further page exists. */
  hasNext: boolean;
  /** hasPrev is true after the first page. */
  hasPrev: boolean;
  /** next shows the next page. */
  next(): void;
  /** prev shows the previous page. */
  prev(): void;
}

/**
 * usePagedList reads one page of a List RPC at a time: Next follows the page's next_page_token, and
 * Previous goes back to the token the earlier page was read with (the server's tokens only go forward,
 * so the tokens of the pages seen are kept). Reload and each poll read the page shown again;
 * `deps` changing starts again at the first page.
 */
export function usePagedList<T>(
  fetchPage: (pageToken: string, signal: AbortSignal) => Promise<Page<T>>,
  deps: unknown[],
  opts: { pollMs?: number; enabled?: boolean } = {},
): PagedList<T> {
  const [tokens, setTokens] = useState<string[]>([""]);
  useEffect(() => setTokens([""]), deps);
  const token = tokens[tokens.length - 1];
  const state = useAsync((signal) => fetchPage(token, signal), [...deps, token], opts);
  const nextToken = state.data?.nextPageToken ?? "";
  return {
    items: state.data?.items,
    page: tokens.length,
    hasNext: nextToken !== "",
    hasPrev: tokens.length > 1,
    loading: state.loading,
    error: state.error,
    reload: state.reload,
    // While a page loads, the rows (and the token) are still the last page's: Next waits for it.
    next: () => {
      if (nextToken && !state.loading) setTokens((t) => (t[t.length - 1] === token ? [...t, nextToken] : t));
    },
    prev: () => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)),
  };
}

/** Pages is a list held whole, shown one page at a time. */
export interface Pages<T> {
  /** items are the rows of the page shown. */
  items: T[];
  /** page is the page shown, counting from 1. */
  page: number;
  /** pages is how many pages there are (at least 1). */
  pages: number;
  /** hasNext is true before the last page. */
  hasNext: boolean;
  /** hasPrev is true after the first page. */
  hasPrev: boolean;
  /** next shows the next page. */
  next(): void;
  /** prev shows the previous page. */
  prev(): void;
}

/**
 * usePages shows a list the screen holds whole (read with listAll, or merged from several lists) one
 * page of `size` rows at a time; `resetKey` changing goes back to the first page, and a list that
 * shrinks keeps the page shown inside it.
 */
export function usePages<T>(all: readonly T[], size: number, resetKey: unknown = undefined): Pages<T> {
  const [page, setPage] = useState(1);
  useEffect(() => setPage(1), [resetKey]);
  const pages = Math.max(1, Math.ceil(all.length / size));
  const shown = Math.min(page, pages);
  return {
    items: all.slice((shown - 1) * size, shown * size),
    page: shown,
    pages,
    hasNext: shown < pages,
    hasPrev: shown > 1,
    next: () => setPage(Math.min(shown + 1, pages)),
    prev: () => setPage(Math.max(shown - 1, 1)),
  };
}
