"""Blocksworld (RAP's planning task): instances and gold plans, a pure-Python validator, RAP's prompts."""
