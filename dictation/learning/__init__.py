"""Learning from corrections: what assistants changed in published drafts teaches the next
transcriptions (DESIGN: issue 12, part 1).

- `align`: the machine's words beside the published text, word by word (pure functions);
- `tables`: the mined corrections, the vocabulary decisions, the words compose replaced;
- `service`: mining on publication, proposals, accept/reject, and the terms a memo is
  transcribed and composed with.

Kept empty so that `dictation.schema` can register `tables` without importing the rest.
"""
