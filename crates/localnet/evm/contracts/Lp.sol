// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// Where LP tokens can sit besides a burn address, for the LP-holder checks.

interface ILpToken {
    function transfer(address to, uint256 value) external returns (bool);
}

/// A "vault" of the deployer's own: it stores the deployer, who can take the LP back at any time.
/// Holding LP here locks nothing.
contract LpVault {
    address private keeper;

    constructor() {
        keeper = msg.sender;
    }

    function pull(address lp, uint256 value) external {
        require(msg.sender == keeper);
        ILpToken(lp).transfer(msg.sender, value);
    }
}

/// A locker that releases nothing and names nobody: LP sent here is locked for good.
contract LpLocker {
    uint256 public locks;

    function note() external {
        locks += 1;
    }
}
