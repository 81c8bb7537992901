// A list read from a cursor-paginated endpoint, page after page, as the view asks for more.

import { useCallback, useEffect, useRef, useState } from "react";
import { get, withQuery, type Page } from "../api";

const idOf = (x: unknown) => (x as { id: number }).id;

/** Items of `path` (each with a numeric `id`), newest page first. */
export function usePages<T>(path: string, params: Record<string, string | number | null | undefined>, pageSize = 200) {
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<string | null>(null);
  const cursor = useRef<string | null>(null);
  const loading = useRef(false);
  const done = useRef(false);
  const key = withQuery(path, { ...params, limit: pageSize });
  // Answers can come back out of order: one for a list the filters have since replaced is
  // dropped, and so is a first page older than one already shown.
  const current = useRef(key);
  current.current = key;
  const asked = useRef(0);
  const shown = useRef(0);

  const more = useCallback(() => {
    if (loading.current || done.current) return;
    loading.current = true;
    get<Page<T>>(cursor.current ? `${key}&cursor=${cursor.current}` : key)
      .then((p) => {
        if (current.current !== key) return;
        setItems((old) => {
          // A refresh may have shown some of these already.
          const have = new Set(old.map(idOf));
          return [...old, ...p.items.filter((x) => !have.has(idOf(x)))];
        });
        cursor.current = p.next_cursor;
        done.current = p.next_cursor === null;
        setError(null);
      })
      .catch((e: Error) => setError(e.message))
      .finally(() => {
        if (current.current === key) loading.current = false;
      });
  }, [key]);

  /** Reads the first page again (new items arrived), keeping what was loaded beyond it. */
  const refresh = useCallback(() => {
    const n = ++asked.current;
    get<Page<T>>(key)
      .then((p) => {
        if (current.current !== key || n < shown.current) return;
        shown.current = n;
        setItems((old) => {
          const fresh = new Set(p.items.map(idOf));
          return [...p.items, ...old.filter((x) => !fresh.has(idOf(x)))];
        });
        if (cursor.current === null && !done.current) cursor.current = p.next_cursor;
      })
      .catch((e: Error) => setError(e.message));
  }, [key]);

  useEffect(() => {
    setItems([]);
    cursor.current = null;
    done.current = false;
    loading.current = false;
    more();
  }, [more]);

  return { items, error, more, refresh };
}
