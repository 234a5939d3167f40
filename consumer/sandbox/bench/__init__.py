"""``runledger bench``: how fast runledger moves events, measured against its ceilings.

Every figure comes from the same run on the same machine: the raw consume ceiling,
the per-event way orchestrators persist today, the batched sink ceiling, runledger
end to end, event age at write at half the maximum load, and peak memory with a
backlog waiting. The README's "Performance" section explains the figures.
"""
