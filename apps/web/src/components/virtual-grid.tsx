"use client";
// A list of any length as one table the page scrolls through: only the rows near the viewport
// are in the DOM (@tanstack/react-virtual over the window's scroll), and rows are fetched from
// the server a page at a time as they come into view (server pagination stays; the scrollbar
// spans every row, so dragging it to the end loads only the last page). Screen readers get the
// whole size from aria-rowcount and each row's place from aria-rowindex; keyboard users move
// between rows with the arrow keys, PgUp/PgDn, Home and End, and Tab reaches each row's links.
// A live refresh (the page's server render) replaces the first page and re-fetches the pages in
// view; rows already shown stay until their fresh copy arrives.
import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { type ReactNode, useCallback, useEffect, useId, useLayoutEffect, useRef, useState } from "react";

export interface VirtualGridProps<R> {
  columns: string[];
  /** Column widths (CSS lengths): the layout is fixed, so columns do not jump as rows scroll by. */
  widths?: string[];
  caption: string;
  testId?: string;
  /** Every row the filter matches, on the server. */
  total: number;
  /** The page the server rendered with the page: rows from `offset` (a multiple of `pageSize`). */
  initial: { offset: number; rows: R[] };
  pageSize: number;
  /** A server action: rows [offset, offset + limit) under the same filter. */
  load: (offset: number, limit: number) => Promise<R[]>;
  /** The row's cells (a `<th scope="row">` first, then `<td>`s). */
  cells: (row: R) => ReactNode;
  /** Extra attributes for a row, e.g. `data-peer` for tests and deep links. */
  rowAttrs?: (row: R) => Record<string, string>;
  empty: ReactNode;
  /** A first guess at a row's height in px; rows are measured once drawn. */
  estimateRowHeight?: number;
  /** Index to bring into view first (a `?offset=` link). */
  startIndex?: number;
}

interface Page<R> {
  gen: number;
  rows: R[];
}

const SSR_VIEWPORT = { width: 1440, height: 1000 };

export function VirtualGrid<R>({
  columns,
  widths,
  caption,
  testId,
  total,
  initial,
  pageSize,
  load,
  cells,
  rowAttrs,
  empty,
  estimateRowHeight = 41,
  startIndex = 0,
}: VirtualGridProps<R>) {
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  const hintId = useId();
  const [scrollMargin, setScrollMargin] = useState(0);
  // Pages by number; `gen` says which server render they belong to. A new render (live refresh,
  // new filter) bumps the generation: older pages stay on screen until re-fetched.
  const [cache, setCache] = useState<{ gen: number; pages: Map<number, Page<R>> }>(() => ({
    gen: 0,
    pages: new Map([[initial.offset / pageSize, { gen: 0, rows: initial.rows }]]),
  }));
  const { gen, pages } = cache;
  const inFlight = useRef(new Set<string>());
  const loadRef = useRef(load);
  loadRef.current = load;
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    setCache((c) => {
      const next = c.gen + 1;
      const m = new Map(c.pages);
      m.set(initial.offset / pageSize, { gen: next, rows: initial.rows });
      return { gen: next, pages: m };
    });
  }, [initial, pageSize]);

  const virtualizer = useWindowVirtualizer({
    count: total,
    estimateSize: () => estimateRowHeight,
    overscan: 8,
    scrollMargin,
    initialRect: SSR_VIEWPORT,
  });

  // Where the rows start on the page; what is above them (banners, filters) can change size.
  useLayoutEffect(() => {
    const el = bodyRef.current;
    if (!el) return;
    const measure = () => {
      const top = Math.round(el.getBoundingClientRect().top + window.scrollY);
      setScrollMargin((m) => (m === top ? m : top));
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(document.body);
    return () => ro.disconnect();
  }, []);

  // Only on arrival: later renders must not pull the reader back to the linked row.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once, on mount
  useEffect(() => {
    if (startIndex > 0) virtualizer.scrollToIndex(startIndex, { align: "start" });
  }, []);

  // A reader who went to the end stays there while the rows near it are measured taller than the
  // estimate (the list grows under them): otherwise dragging the scrollbar to the bottom would land
  // a few screens short of the last row.
  const atEnd = useRef(false);
  useEffect(() => {
    const onScroll = () => {
      atEnd.current = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2;
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);
  const totalSize = virtualizer.getTotalSize();
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-pins on every change of the list's height
  useLayoutEffect(() => {
    if (atEnd.current) window.scrollTo(0, document.documentElement.scrollHeight);
  }, [totalSize]);

  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? -1;

  // Fetch the pages in view (and the next one) once scrolling pauses, newest generation only.
  useEffect(() => {
    if (last < 0) return;
    const timer = setTimeout(() => {
      const wanted = new Set<number>();
      for (let i = first; i <= Math.min(total - 1, last + Math.floor(pageSize / 2)); i += 1)
        wanted.add(Math.floor(i / pageSize));
      for (const p of wanted) {
        const have = pages.get(p);
        const key = `${gen}:${p}`;
        if ((have && have.gen === gen) || inFlight.current.has(key)) continue;
        inFlight.current.add(key);
        loadRef
          .current(p * pageSize, pageSize)
          .then((rows) => {
            setCache((c) => {
              const cur = c.pages.get(p);
              if (cur && cur.gen > gen) return c;
              const m = new Map(c.pages);
              m.set(p, { gen, rows });
              return { gen: c.gen, pages: m };
            });
          })
          .catch(() => {
            // Shown as still loading; the next scroll or live refresh asks again.
          })
          .finally(() => inFlight.current.delete(key));
      }
    }, 60);
    return () => clearTimeout(timer);
  }, [first, last, gen, pages, pageSize, total]);

  const rowAt = (i: number): R | undefined => pages.get(Math.floor(i / pageSize))?.rows[i % pageSize];

  // Keyboard: focus moves to the row once the virtualizer has brought it into the DOM.
  const pendingFocus = useRef<number | null>(null);
  useEffect(() => {
    if (pendingFocus.current === null) return;
    const row = bodyRef.current?.querySelector<HTMLElement>(`tr[data-index="${pendingFocus.current}"]`);
    if (!row) return;
    pendingFocus.current = null;
    row.focus({ preventScroll: true });
  });
  const moveTo = useCallback(
    (i: number) => {
      const target = Math.max(0, Math.min(total - 1, i));
      // Keyboard moves say where the reader is, before the scroll they cause is reported.
      atEnd.current = target === total - 1;
      pendingFocus.current = target;
      virtualizer.scrollToIndex(target, { align: "auto" });
      const row = bodyRef.current?.querySelector<HTMLElement>(`tr[data-index="${target}"]`);
      if (row) {
        pendingFocus.current = null;
        row.focus({ preventScroll: true });
      }
    },
    [total, virtualizer],
  );
  function onKeyDown(e: React.KeyboardEvent<HTMLTableSectionElement>) {
    const row = (e.target as HTMLElement).closest<HTMLElement>("tr[data-index]");
    if (!row || e.altKey || e.metaKey) return;
    const i = Number(row.dataset.index);
    const screen = Math.max(1, Math.floor(window.innerHeight / estimateRowHeight) - 2);
    const next: Record<string, number> = {
      ArrowDown: i + 1,
      ArrowUp: i - 1,
      PageDown: i + screen,
      PageUp: i - screen,
      Home: 0,
      End: total - 1,
    };
    if (!(e.key in next)) return;
    e.preventDefault();
    moveTo(next[e.key]!);
  }

  const before = items.length ? items[0]!.start - virtualizer.options.scrollMargin : 0;
  const after = items.length
    ? virtualizer.getTotalSize() - (items[items.length - 1]!.end - virtualizer.options.scrollMargin)
    : 0;
  const shownFrom = total === 0 ? 0 : first + 1;
  const shownTo = Math.min(last + 1, total);

  return (
    <>
      <p className="muted grid-hint" id={hintId}>
        {total.toLocaleString("en")} rows{total > 0 ? ` · rows ${shownFrom}–${shownTo} drawn` : ""} · ↑ ↓ PgUp
        PgDn Home End move between rows, Tab reaches a row&apos;s links
      </p>
      <table
        className="grid virtual"
        data-testid={testId}
        aria-rowcount={total + 1}
        aria-describedby={hintId}
      >
        <caption className="sr-only">{caption}</caption>
        {widths ? (
          <colgroup>
            {widths.map((w, i) => (
              // Presentational attributes, not style="": the CSP allows no inline styles.
              <col key={columns[i]} width={w} />
            ))}
          </colgroup>
        ) : null}
        <thead>
          <tr aria-rowindex={1}>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody ref={bodyRef} onKeyDown={onKeyDown}>
          {total === 0 ? (
            <tr>
              <td colSpan={columns.length} className="muted">
                {empty}
              </td>
            </tr>
          ) : null}
          {before > 0 ? (
            // biome-ignore lint/a11y/noAriaHiddenOnFocusable: an empty spacer row, never focusable
            <tr aria-hidden="true" className="spacer">
              <td colSpan={columns.length} height={before} />
            </tr>
          ) : null}
          {items.map((vi) => {
            const row = rowAt(vi.index);
            return (
              <tr
                key={vi.index}
                data-index={vi.index}
                ref={virtualizer.measureElement}
                aria-rowindex={vi.index + 2}
                tabIndex={-1}
                {...(row ? rowAttrs?.(row) : { "aria-busy": "true" })}
              >
                {row ? (
                  cells(row)
                ) : (
                  <td colSpan={columns.length} className="muted">
                    Loading row {vi.index + 1}…
                  </td>
                )}
              </tr>
            );
          })}
          {after > 0 ? (
            // biome-ignore lint/a11y/noAriaHiddenOnFocusable: an empty spacer row, never focusable
            <tr aria-hidden="true" className="spacer">
              <td colSpan={columns.length} height={after} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </>
  );
}
