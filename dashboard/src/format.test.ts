import { describe, expect, it } from "vitest";
import { elapsed, formatPrice, shareOf, formatUnits, pnlSign, priceOf, scaleBps, signedDiff, verdictColour } from "./format";

const U64_MAX = "18446744073709551615";
const U256_MAX = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

describe("formatUnits", () => {
  it("applies 6, 9 and 18 decimals exactly", () => {
    expect(formatUnits("1500000", 6)).toBe("1.5");
    expect(formatUnits("1", 9)).toBe("0.000000001");
    expect(formatUnits("1230000000000000000", 18)).toBe("1.23");
    expect(formatUnits("1000000000000000000000", 18)).toBe("1,000");
  });
  it("keeps every digit at the u64 and U256 extremes", () => {
    expect(formatUnits(U64_MAX, 9, false)).toBe("18446744073.709551615");
    expect(formatUnits(U64_MAX, 0)).toBe("18,446,744,073,709,551,615");
    expect(formatUnits(U256_MAX, 18, false)).toBe(
      "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
    );
    // A float would have rounded these.
    expect(formatUnits("9007199254740993", 0, false)).toBe("9007199254740993");
  });
  it("signs, zero, and what is not an amount", () => {
    expect(formatUnits("-2500", 3)).toBe("-2.5");
    expect(formatUnits("-0", 3)).toBe("0");
    expect(formatUnits("0", 18)).toBe("0");
    expect(formatUnits("1e5", 2)).toBe("1e5");
  });
});

describe("PnL", () => {
  it("has the sign of the difference", () => {
    expect(signedDiff("5", "7")).toBe("-2");
    expect(signedDiff(U256_MAX, "1").endsWith("934")).toBe(true);
    expect(pnlSign("12")).toBe("profit");
    expect(pnlSign("-1")).toBe("loss");
    expect(pnlSign("0")).toBe("flat");
    expect(pnlSign(null)).toBe("flat");
  });
});

describe("verdictColour", () => {
  it("colours each verdict, and anything unknown as critical", () => {
    expect(verdictColour("low")).not.toBe(verdictColour("critical"));
    expect(new Set(["low", "medium", "high", "critical"].map(verdictColour)).size).toBe(4);
    expect(verdictColour("<script>")).toBe(verdictColour("critical"));
  });
});

describe("prices from reserves", () => {
  it("is quote per base in whole tokens, exact, across decimals", () => {
    // 2,000 base tokens (18 decimals) against 1 quote token of 6 decimals: 0.0005 each.
    const p = priceOf("2000000000000000000000", "1000000", 18, 6);
    expect(formatPrice(p!)).toBe("0.0005");
    // 1 SOL (9) for 1,000,000 of a 6-decimal token: 0.000001 SOL each.
    expect(formatPrice(priceOf("1000000000000", "1000000000", 6, 9)!)).toBe("0.000001");
    expect(priceOf("0", "5", 9, 9)).toBeNull();
    expect(priceOf("-1", "5", 9, 9)).toBeNull();
  });
  it("keeps U256 reserves exact", () => {
    const p = priceOf("1", U256_MAX, 0, 0)!;
    expect(p).toBe(U256_MAX + "0".repeat(18));
  });
  it("places take-profit and stop-loss levels by integer basis points", () => {
    expect(scaleBps("1000000", 5_000)).toBe("1500000");
    expect(scaleBps("1000000", -2_500)).toBe("750000");
    expect(scaleBps("3", -5_000)).toBe("1");
  });
  it("shows significant digits without a float", () => {
    expect(formatPrice("123456789" + "000000000000000000")).toBe("123,456,789");
    expect(formatPrice("1234567")).toBe("0.00000000000123456");
  });
  it("measures funnel steps", () => {
    expect(elapsed(1_000, 1_250)).toBe("250 ms");
    expect(elapsed(0, 2_500)).toBe("2.5 s");
    expect(elapsed(null, 5)).toBe("-");
  });
});

describe("shares of the supply", () => {
  it("is exact at 18 decimals and at U256 sizes", () => {
    expect(shareOf("1", "3")).toBe("33.33%");
    expect(shareOf("250000000000000000000000", "1000000000000000000000000")).toBe("25.00%");
    expect(shareOf(U256_MAX, U256_MAX)).toBe("100.00%");
    expect(shareOf("5", "0")).toBe("-");
  });
});
