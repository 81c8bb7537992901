// The official npm clients against our localnet and app-api, as a wallet or a dApp uses them:
// @solana/web3.js, @solana/spl-token and the Anchor TypeScript client (@anchor-lang/core), at the
// versions pinned in package-lock.json. Run by app-api/tests/wallets.rs, which starts the
// localnet (with AMM config 0 created) and app-api, and passes their URLs:
//   LOCALNET_RPC, LOCALNET_WS, API_URL.
// Amounts are bigints or BN, never floats.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The package is CommonJS: its namespace is the default export.
import anchor from "@anchor-lang/core";
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  VersionedTransaction,
} from "@solana/web3.js";
import {
  TOKEN_PROGRAM_ID,
  createMint,
  getAccount,
  getAssociatedTokenAddressSync,
  getOrCreateAssociatedTokenAccount,
  mintTo,
} from "@solana/spl-token";

const { BN } = anchor;
const RPC = process.env.LOCALNET_RPC;
const WS = process.env.LOCALNET_WS;
const API = process.env.API_URL;
assert.ok(RPC && WS && API, "LOCALNET_RPC, LOCALNET_WS and API_URL must be set");

const idl = JSON.parse(readFileSync(new URL("../../../idl/amm.json", import.meta.url), "utf8"));
const connection = new Connection(RPC, { commitment: "confirmed", wsEndpoint: WS });
const payer = Keypair.generate();
const provider = new anchor.AnchorProvider(connection, new anchor.Wallet(payer), { commitment: "confirmed" });
const program = new anchor.Program(idl, provider);
const PER_TEST = { timeout: 60_000 };
// The 8-byte tag of an `emit_cpi!` self-invocation (Anchor's EVENT_IX_TAG, little-endian).
const EVENT_IX_TAG = Buffer.from([0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d]);

const config = PublicKey.findProgramAddressSync(
  [Buffer.from("amm_config"), Buffer.from([0, 0])],
  program.programId,
)[0];
const state = {};

const balance = async (ata) => (await getAccount(connection, ata, "confirmed")).amount;
const sorted = (x, y) => (Buffer.compare(x.toBuffer(), y.toBuffer()) < 0 ? [x, y] : [y, x]);

/// The events our program emitted in `signature`, decoded by the IDL's coder.
async function events(signature) {
  const tx = await connection.getTransaction(signature, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
  assert.ok(tx, `transaction ${signature} not found`);
  const keys = tx.transaction.message.staticAccountKeys;
  const out = [];
  for (const group of tx.meta.innerInstructions ?? []) {
    for (const ix of group.instructions) {
      if (!keys[ix.programIdIndex].equals(program.programId)) continue;
      const data = Buffer.from(anchor.utils.bytes.bs58.decode(ix.data));
      if (!data.subarray(0, 8).equals(EVENT_IX_TAG)) continue;
      const event = program.coder.events.decode(data.subarray(8).toString("base64"));
      if (event) out.push(event);
    }
  }
  return out;
}

/// POSTs `body` to an app-api builder and expects a transaction.
async function build(path, body) {
  const resp = await fetch(`${API}/api/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await resp.json();
  assert.equal(resp.status, 200, `${path}: ${JSON.stringify(json)}`);
  for (const field of ["transaction", "lastValidBlockHeight", "computeUnitLimit", "prioritizationFeeLamports"]) {
    assert.ok(json[field] !== undefined, `${path}: no ${field} in ${JSON.stringify(json)}`);
  }
  return json;
}

/// Signs an API transaction with the wallet's web3.js Keypair, sends and confirms it.
async function signAndSend(resp) {
  const tx = VersionedTransaction.deserialize(Buffer.from(resp.transaction, "base64"));
  assert.equal(tx.version, 0, "a v0 transaction");
  assert.ok(tx.message.staticAccountKeys[0].equals(payer.publicKey), "the wallet pays");
  tx.sign([payer]);
  const signature = await connection.sendTransaction(tx);
  const confirmed = await connection.confirmTransaction(
    { signature, blockhash: tx.message.recentBlockhash, lastValidBlockHeight: resp.lastValidBlockHeight },
    "confirmed",
  );
  assert.equal(confirmed.value.err, null, `${signature} failed`);
  return signature;
}

test("the node answers as a validator: version, epoch, airdrop", PER_TEST, async () => {
  const version = await connection.getVersion();
  assert.equal(typeof version["feature-set"], "number");
  assert.equal(typeof version["solana-core"], "string");
  const epoch = await connection.getEpochInfo();
  assert.ok(epoch.slotsInEpoch > 0 && epoch.absoluteSlot >= 0);
  const signature = await connection.requestAirdrop(payer.publicKey, 20 * LAMPORTS_PER_SOL);
  const latest = await connection.getLatestBlockhash();
  await connection.confirmTransaction({ signature, ...latest }, "confirmed");
  assert.equal(await connection.getBalance(payer.publicKey), 20 * LAMPORTS_PER_SOL);
});

test("mints and associated token accounts with @solana/spl-token", PER_TEST, async () => {
  const x = await createMint(connection, payer, payer.publicKey, null, 6);
  const y = await createMint(connection, payer, payer.publicKey, null, 9);
  const [mintA, mintB] = sorted(x, y);
  const decimalsA = mintA.equals(x) ? 6 : 9;
  Object.assign(state, { mintA, mintB, decimalsA });
  for (const mint of [mintA, mintB]) {
    const ata = await getOrCreateAssociatedTokenAccount(connection, payer, mint, payer.publicKey);
    await mintTo(connection, payer, mint, ata.address, payer, 1_000_000_000_000n);
    assert.equal(await balance(ata.address), 1_000_000_000_000n);
  }
  state.ataA = getAssociatedTokenAddressSync(mintA, payer.publicKey);
  state.ataB = getAssociatedTokenAddressSync(mintB, payer.publicKey);
  const supply = await connection.getTokenSupply(mintA);
  assert.equal(supply.value.amount, "1000000000000");
  assert.equal(supply.value.decimals, decimalsA);
});

test("a pool through the IDL, then deposit, both swaps and withdraw, each event decoded", PER_TEST, async () => {
  const { mintA, mintB, ataA, ataB } = state;
  const sigCreate = await program.methods
    .initializePool(new BN("1000000000"), new BN("4000000000"), new BN(0))
    .accountsPartial({ creator: payer.publicKey, config, mintA, mintB, creatorTokenA: ataA, creatorTokenB: ataB })
    .rpc();
  const [pool] = PublicKey.findProgramAddressSync(
    [Buffer.from("pool"), config.toBuffer(), mintA.toBuffer(), mintB.toBuffer()],
    program.programId,
  );
  state.pool = pool;
  let p = await program.account.pool.fetch(pool);
  assert.equal(p.reserveA.toString(), "1000000000");
  assert.equal(p.reserveB.toString(), "4000000000");
  assert.ok(p.mintA.equals(mintA) && p.config.equals(config));
  state.lpMint = p.lpMint;
  state.ataLp = getAssociatedTokenAddressSync(p.lpMint, payer.publicKey);
  assert.equal(await balance(state.ataLp), 2_000_000_000n - 1_000n, "sqrt(a * b) less the locked 1,000");
  const created = await events(sigCreate);
  assert.deepEqual(created.map((e) => e.name), ["poolCreated"]);
  assert.ok(created[0].data.pool.equals(pool));

  const liquidity = {
    owner: payer.publicKey, pool, vaultA: p.vaultA, vaultB: p.vaultB, lpMint: p.lpMint,
    ownerTokenA: ataA, ownerTokenB: ataB, ownerLp: state.ataLp,
  };
  const sigDeposit = await program.methods
    .deposit(new BN("1000000"), new BN("1000000"), new BN("4000000"))
    .accountsPartial(liquidity)
    .rpc();
  const [added] = await events(sigDeposit);
  assert.equal(added.name, "liquidityAdded");
  assert.equal(added.data.lpAmount.toString(), "1000000");
  assert.equal(added.data.amountA.toString(), "500000", "ceil(1e6 * 1e9 / 2e9)");

  const swapAccounts = (aToB) => ({
    trader: payer.publicKey, config, pool,
    inputVault: aToB ? p.vaultA : p.vaultB, outputVault: aToB ? p.vaultB : p.vaultA,
    inputTokenAccount: aToB ? ataA : ataB, outputTokenAccount: aToB ? ataB : ataA,
  });
  const beforeB = await balance(ataB);
  const sigIn = await program.methods.swapExactIn(new BN("10000000"), new BN(1)).accountsPartial(swapAccounts(true)).rpc();
  const [swappedIn] = await events(sigIn);
  assert.equal(swappedIn.name, "swapped");
  assert.equal(swappedIn.data.amountIn.toString(), "10000000");
  assert.equal((await balance(ataB)) - beforeB, BigInt(swappedIn.data.amountOut.toString()));

  const beforeA = await balance(ataA);
  const sigOut = await program.methods
    .swapExactOut(new BN("5000000"), new BN("100000000"))
    .accountsPartial(swapAccounts(false))
    .rpc();
  const [swappedOut] = await events(sigOut);
  assert.equal(swappedOut.name, "swapped");
  assert.equal(swappedOut.data.amountOut.toString(), "5000000");
  assert.equal((await balance(ataA)) - beforeA, 5_000_000n);

  const sigWithdraw = await program.methods
    .withdraw(new BN("1000000"), new BN(1), new BN(1))
    .accountsPartial(liquidity)
    .rpc();
  const [removed] = await events(sigWithdraw);
  assert.equal(removed.name, "liquidityRemoved");
  assert.equal(removed.data.lpAmount.toString(), "1000000");
  p = await program.account.pool.fetch(pool);
  assert.equal(p.lpSupply.toString(), "2000000000");
});

test("program.account.pool.fetch, .all() and a memcmp filter", PER_TEST, async () => {
  const all = await program.account.pool.all();
  assert.ok(all.some((a) => a.publicKey.equals(state.pool)), "all() lists our pool");
  // Pool layout: 8-byte discriminator, config, creator, then mint_a.
  const byMint = await program.account.pool.all([{ memcmp: { offset: 8 + 32 + 32, bytes: state.mintA.toBase58() } }]);
  assert.deepEqual(byMint.map((a) => a.publicKey.toBase58()), [state.pool.toBase58()]);
  const none = await program.account.pool.all([{ memcmp: { offset: 8 + 32 + 32, bytes: PublicKey.default.toBase58() } }]);
  assert.equal(none.length, 0);
  const fetched = await program.account.pool.fetch(state.pool);
  assert.ok(fetched.mintB.equals(state.mintB));
});

test("token accounts listed the way wallets list them (jsonParsed)", PER_TEST, async () => {
  const { value } = await connection.getParsedTokenAccountsByOwner(payer.publicKey, { programId: TOKEN_PROGRAM_ID });
  const byMint = new Map(value.map((a) => [a.account.data.parsed.info.mint, a]));
  for (const [mint, ata] of [[state.mintA, state.ataA], [state.mintB, state.ataB], [state.lpMint, state.ataLp]]) {
    const listed = byMint.get(mint.toBase58());
    assert.ok(listed, `${mint.toBase58()} listed`);
    assert.equal(listed.account.data.program, "spl-token");
    assert.equal(listed.account.data.parsed.type, "account");
    assert.equal(listed.account.data.parsed.info.owner, payer.publicKey.toBase58());
    assert.equal(listed.account.data.parsed.info.tokenAmount.amount, (await balance(ata)).toString());
    assert.ok(listed.pubkey.equals(ata));
  }
  const one = await connection.getTokenAccountBalance(state.ataA);
  assert.equal(one.value.amount, (await balance(state.ataA)).toString());
  assert.equal(one.value.decimals, state.decimalsA);
});

test("onAccountChange fires when the account changes", PER_TEST, async () => {
  let resolve;
  const changed = new Promise((r) => (resolve = r));
  const id = connection.onAccountChange(state.ataB, (info, ctx) => resolve({ info, ctx }), { commitment: "confirmed" });
  try {
    // The subscription is set up asynchronously: change the account until a notification
    // proves one was seen (each wait is bounded, the whole test is).
    for (let attempt = 0; ; attempt++) {
      await mintTo(connection, payer, state.mintB, state.ataB, payer, 1n);
      const got = await Promise.race([changed, new Promise((r) => setTimeout(() => r(null), 2_000))]);
      if (got) {
        assert.ok(got.info.owner.equals(TOKEN_PROGRAM_ID));
        assert.ok(got.ctx.slot > 0);
        break;
      }
      assert.ok(attempt < 10, "no account notification after 10 changes");
    }
  } finally {
    await connection.removeAccountChangeListener(id);
  }
});

test("every API builder's transaction, signed by the Keypair and sent, does what it said", PER_TEST, async () => {
  const wallet = payer.publicKey.toBase58();
  // swap
  const beforeB = await balance(state.ataB);
  const swap = await build("/tx/swap", { pool: state.pool.toBase58(), wallet, a_to_b: true, amount: "2000000" });
  await signAndSend(swap);
  assert.equal((await balance(state.ataB)) - beforeB, BigInt(swap.quoted_amount_out));
  // deposit
  const beforeLp = await balance(state.ataLp);
  const dep = await build("/tx/deposit", {
    pool: state.pool.toBase58(), wallet, max_amount_a: "3000000", max_amount_b: "12000000",
  });
  await signAndSend(dep);
  assert.equal((await balance(state.ataLp)) - beforeLp, BigInt(dep.lp_amount));
  // withdraw
  const beforeA = await balance(state.ataA);
  const wd = await build("/tx/withdraw", { pool: state.pool.toBase58(), wallet, lp_amount: dep.lp_amount });
  await signAndSend(wd);
  assert.equal((await balance(state.ataA)) - beforeA, BigInt(wd.amount_a));
  assert.ok(BigInt(wd.amount_a) >= BigInt(wd.min_amount_a));
  // create-pool, with two new mints
  const x = await createMint(connection, payer, payer.publicKey, null, 6);
  const y = await createMint(connection, payer, payer.publicKey, null, 6);
  for (const mint of [x, y]) {
    const ata = await getOrCreateAssociatedTokenAccount(connection, payer, mint, payer.publicKey);
    await mintTo(connection, payer, mint, ata.address, payer, 10_000_000_000n);
  }
  const created = await build("/tx/create-pool", {
    wallet, mint_x: x.toBase58(), mint_y: y.toBase58(), amount_x: "3000000000", amount_y: "3000000000",
  });
  await signAndSend(created);
  const fresh = await program.account.pool.fetch(new PublicKey(created.pool));
  assert.equal(fresh.reserveA.toString(), "3000000000");
  assert.equal(fresh.lpSupply.toString(), "3000000000");
  // transfer, to a wallet that has no account of the mint yet
  const friend = Keypair.generate().publicKey;
  const sent = await build("/tx/transfer", { wallet, mint: state.mintA.toBase58(), to: friend.toBase58(), amount: "123456" });
  await signAndSend(sent);
  const received = await connection.getTokenAccountBalance(getAssociatedTokenAddressSync(state.mintA, friend));
  assert.equal(received.value.amount, "123456");
});
