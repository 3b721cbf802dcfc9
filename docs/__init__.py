"""The contract the suite enforces (contract.md), installed with the package as ``conformance.docs``."""
