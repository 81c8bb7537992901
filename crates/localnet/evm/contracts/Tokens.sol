// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// The risk scorer's test zoo: one token per trick that real scam launches use, plus a clean one.
// Each token knows its Uniswap V2 pair against WETH in advance (CREATE2 with the mainnet init-code
// hash, which the npm UniswapV2Pair bytecode matches), so its rules are armed from the first block,
// as in real launches. The owner (deployer) is exempt from every rule so it can add liquidity.

/// Plain ERC-20 storage and transfers, shared by every token here (constructor-less so the
/// upgradeable token behind the proxy can use it too). `_transfer` is the hook variants override.
abstract contract ERC20Core {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function _mintTo(string memory n, string memory s, uint256 supply, address holder) internal {
        name = n;
        symbol = s;
        totalSupply = supply;
        balanceOf[holder] = supply;
        emit Transfer(address(0), holder, supply);
    }

    function _move(address from, address to, uint256 value) internal {
        require(balanceOf[from] >= value, "balance");
        unchecked {
            balanceOf[from] -= value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _transfer(address from, address to, uint256 value) internal virtual {
        _move(from, to, value);
    }
}

abstract contract BaseToken is ERC20Core {
    address public owner;
    address public immutable pair;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    bytes32 private constant INIT_CODE_HASH = 0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth) {
        owner = msg.sender;
        _mintTo(n, s, supply, msg.sender);
        (address t0, address t1) = address(this) < weth ? (address(this), weth) : (weth, address(this));
        pair = address(uint160(uint256(keccak256(abi.encodePacked(
            hex"ff", factory, keccak256(abi.encodePacked(t0, t1)), INIT_CODE_HASH)))));
        emit OwnershipTransferred(address(0), msg.sender);
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    function renounceOwnership() external onlyOwner {
        emit OwnershipTransferred(owner, address(0));
        owner = address(0);
    }

    function _exempt(address from, address to) internal view returns (bool) {
        return from == owner || to == owner;
    }
}

/// A plain ERC-20 with a renounceable owner and nothing else.
contract StandardToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}
}

/// Buy and sell taxes in basis points, paid to the owner, which can change them at any time.
contract TaxToken is BaseToken {
    uint256 public buyTaxBps;
    uint256 public sellTaxBps;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth, uint256 buyBps, uint256 sellBps)
        BaseToken(n, s, supply, factory, weth)
    {
        buyTaxBps = buyBps;
        sellTaxBps = sellBps;
    }

    function setTaxes(uint256 buyBps, uint256 sellBps) external onlyOwner {
        buyTaxBps = buyBps;
        sellTaxBps = sellBps;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        uint256 bps = _exempt(from, to) ? 0 : from == pair ? buyTaxBps : to == pair ? sellTaxBps : 0;
        uint256 tax = value * bps / 10_000;
        if (tax > 0) _move(from, owner, tax);
        _move(from, to, value - tax);
    }
}

/// Honeypot: anyone can buy, only the owner can sell.
contract HoneypotToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function _transfer(address from, address to, uint256 value) internal override {
        require(to != pair || _exempt(from, to), "TRANSFER_FORBIDDEN");
        _move(from, to, value);
    }
}

/// Honeypot: sells above a tiny amount revert, so buyers can never get their money out.
contract TinySellToken is BaseToken {
    uint256 public immutable maxSell;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        maxSell = supply / 1_000_000;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(to != pair || _exempt(from, to) || value <= maxSell, "SELL_LIMIT");
        _move(from, to, value);
    }
}

/// A cap on the size of any single transfer (buys, sells and wallet transfers), owner-adjustable.
contract MaxTxToken is BaseToken {
    uint256 public maxTxAmount;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth)
    {
        maxTxAmount = supply / 200;
    }

    function setMaxTxAmount(uint256 amount) external onlyOwner {
        maxTxAmount = amount;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(_exempt(from, to) || value <= maxTxAmount, "MAX_TX");
        _move(from, to, value);
    }
}

/// The owner can blacklist any holder, freezing their tokens.
contract BlacklistToken is BaseToken {
    mapping(address => bool) public isBlacklisted;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function blacklist(address who, bool value) external onlyOwner {
        isBlacklisted[who] = value;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!isBlacklisted[from] && !isBlacklisted[to], "BLACKLISTED");
        _move(from, to, value);
    }
}

/// The owner can mint without limit.
contract MintableToken is BaseToken {
    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function mint(address to, uint256 value) external onlyOwner {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }
}

/// The owner can stop all transfers but its own.
contract PausableToken is BaseToken {
    bool public paused;

    constructor(string memory n, string memory s, uint256 supply, address factory, address weth)
        BaseToken(n, s, supply, factory, weth) {}

    function pause() external onlyOwner {
        paused = true;
    }

    function unpause() external onlyOwner {
        paused = false;
    }

    function _transfer(address from, address to, uint256 value) internal override {
        require(!paused || _exempt(from, to), "PAUSED");
        _move(from, to, value);
    }
}

/// The logic behind `TokenProxy`: a plain token initialised through the proxy.
contract UpgradeableToken is ERC20Core {
    address public owner;
    bool private initialized;

    function initialize(string memory n, string memory s, uint256 supply, address holder) external {
        require(!initialized, "initialized");
        initialized = true;
        owner = holder;
        _mintTo(n, s, supply, holder);
    }
}

/// An EIP-1967 upgradeable proxy: its admin can swap the token's code for anything at any time.
contract TokenProxy {
    // bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
    bytes32 private constant IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    // bytes32(uint256(keccak256("eip1967.proxy.admin")) - 1)
    bytes32 private constant ADMIN_SLOT = 0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103;

    event Upgraded(address indexed implementation);

    constructor(address implementation, bytes memory init) {
        _setImplementation(implementation);
        bytes32 slot = ADMIN_SLOT;
        assembly {
            sstore(slot, caller())
        }
        (bool ok, bytes memory ret) = implementation.delegatecall(init);
        require(ok, string(ret));
    }

    function upgradeTo(address implementation) external {
        bytes32 slot = ADMIN_SLOT;
        address admin;
        assembly {
            admin := sload(slot)
        }
        require(msg.sender == admin, "not admin");
        _setImplementation(implementation);
    }

    function _setImplementation(address implementation) private {
        bytes32 slot = IMPLEMENTATION_SLOT;
        assembly {
            sstore(slot, implementation)
        }
        emit Upgraded(implementation);
    }

    fallback() external {
        bytes32 slot = IMPLEMENTATION_SLOT;
        assembly {
            let implementation := sload(slot)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), implementation, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
