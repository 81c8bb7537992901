// Pages are addressed by the URL's hash (#/pool/bsc/0x…), so app-api serves one page at `/`.

import { useEffect, useState } from "react";

export type Route =
  | { page: "overview" | "discoveries" | "pools" | "positions" | "performance" | "backtests" | "operator" }
  | { page: "pool"; chain: string; address: string }
  | { page: "backtest"; id: number };

export function parse(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "discoveries":
    case "pools":
    case "positions":
    case "performance":
    case "backtests":
    case "operator":
      return { page: parts[0] };
    case "backtest": {
      const id = Number(parts[1]);
      return Number.isSafeInteger(id) && id > 0 ? { page: "backtest", id } : { page: "backtests" };
    }
    case "pool":
      if (parts[1] && parts[2]) return { page: "pool", chain: parts[1], address: parts[2] };
      return { page: "pools" };
    default:
      return { page: "overview" };
  }
}

export function poolHref(chain: string, address: string): string {
  return `#/pool/${encodeURIComponent(chain)}/${encodeURIComponent(address)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
