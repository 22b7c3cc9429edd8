"""compose(): transcripts built by hand with word timings, as Whisper spells them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from dictation.compose import (
    ComposeOptions,
    atoms,
    compose,
    load_language_table,
    slugify,
)
from dictation.errors import NotFound
from dictation.transcribe.result import Segment, Transcript, Word

NBSP, NNBSP = "\u00a0", "\u202f"
WORD_S, GAP_S = 0.4, 0.05


def memo(*parts: str | float, language: str = "en") -> Transcript:
    """Words said at a steady pace, one segment per string; a number is a silence in seconds.

    Each whitespace-separated piece becomes one Whisper word with its leading space, so
    "Titre :" gives " Titre" and " :" like the model's separate punctuation words."""
    t, segments = 0.0, []
    for part in parts:
        if isinstance(part, (int, float)):
            t += part
            continue
        words = []
        for piece in part.split():
            words.append(Word(round(t, 3), round(t + WORD_S, 3), " " + piece, 0.9))
            t += WORD_S + GAP_S
        text = "".join(w.word for w in words)
        segments.append(Segment(len(segments), words[0].start, words[-1].end, text, -0.2, 0.01, words))
    return Transcript(language=language, duration=t, segments=segments)


def body(*parts: str | float, language: str = "en", **options) -> str:
    draft = compose(memo(*parts, language=language), ComposeOptions(**options))
    return "\n\n".join(p.text for p in draft.paragraphs)


def rules(action_filter):
    return [
        pytest.param(lang, rule, id=f"{lang}-{rule.spoken}")
        for lang in ("en", "fr")
        for rule in load_language_table(lang).rules
        if action_filter(rule.action)
    ]


def dictated(rule, before: str, after: str) -> str:
    """The phrase said between two words, set off by punctuation where the table needs it."""
    words = rule.spoken.split()
    if rule.set_off in ("after", "both"):
        words[-1] += ":" if rule.action == "title" else "."
    lead = "." if rule.set_off in ("before", "both") else ""
    return f"{before}{lead} {' '.join(words)} {after}"


@pytest.mark.parametrize("lang, rule", rules(lambda a: a != "filler"))
def test_apply_command_every_phrase(lang, rule):
    draft = compose(memo(dictated(rule, "Alpha beta", "gamma delta."), language=lang))
    table = load_language_table(lang)
    text = "\n\n".join(p.text for p in draft.paragraphs)
    assert not set(rule.phrase) & set(atoms(text)), f"the command's words stayed: {text!r}"
    if rule.action == "paragraph" or rule.then == "paragraph":
        assert [p.text for p in draft.paragraphs] == ["Alpha beta.", "Gamma delta."]
    elif rule.action == "line_break" or rule.then == "line_break":
        assert [p.text for p in draft.paragraphs] == [f"Alpha beta{rule.text}\nGamma delta."]
    elif rule.action == "insert" and rule.text in "([":
        assert text == f"Alpha beta {rule.text}gamma delta."
    elif rule.action == "insert":
        gamma = "Gamma" if rule.text in ".?!" else "gamma"
        assert re.fullmatch(rf"Alpha beta[{NBSP}{NNBSP}]?{re.escape(rule.text)} {gamma} delta\.", text), text
    elif rule.action == "open_quote":
        assert text == f"Alpha beta {table.open_quote}{table.space_after.get(table.open_quote, '')}gamma delta."
    elif rule.action == "close_quote":
        assert text.startswith(f"Alpha beta{table.space_before.get(table.close_quote, '')}{table.close_quote} ")
    elif rule.action == "title":
        assert (draft.title, text) == ("Gamma delta", "Alpha beta.")
    elif rule.action == "scratch":
        assert text == "Gamma delta."
    else:
        pytest.fail(f"no expectation for the action {rule.action}")


@pytest.mark.parametrize("lang, rule", rules(lambda a: a == "filler"))
def test_remove_filler_every_word(lang, rule):
    spoken = f"Alpha, {rule.spoken}, beta gamma." if rule.set_off else f"Alpha {rule.spoken} beta gamma."
    assert body(spoken, language=lang) == "Alpha beta gamma."


@pytest.mark.parametrize("lang, spoken", [
    ("en", "You know the answer."),
    ("en", "I mean it."),
    ("en", "I like cheese."),
    ("fr", "Ben a appelé hier."),
    ("fr", "Merci, Ben."),
    ("fr", "Je ne sais pas, tu sais pourquoi ?"),
])
def test_keep_filler_word_used_as_speech(lang, spoken):
    assert body(spoken, language=lang).replace(NNBSP, " ") == spoken


@pytest.mark.parametrize("lang, spoken", [
    ("en", "A pointless commander spoke."),
    ("en", "Commas and colons are fine, semicolons too."),
    ("en", "Our newline parser works."),
    ("en", "He said uh-huh twice."),
    ("fr", "Les virgules sont mal placées."),
    ("fr", "C'est un point important."),
    ("fr", "Le titre est provisoire."),
])
def test_leave_command_inside_word_alone(lang, spoken):
    assert body(spoken, language=lang) == spoken


@pytest.mark.parametrize("lang, spoken", [
    ("en", "Put a comma here."),
    ("en", "We launched a new line of shoes."),
    ("en", "The project came to a full stop."),
    ("en", "There is a question mark over it."),
    ("en", "The title is pending."),
    ("en", "We had to scratch that plan."),
    ("en", "There is something new. Line two is ready."),
    ("fr", "Il manque une virgule ici."),
    ("fr", "Je reviens à la ligne de départ."),
    ("fr", "Nous avons marqué deux points."),
    ("fr", "Mettons un point final au débat."),
])
def test_keep_command_phrase_used_as_speech(lang, spoken):
    assert body(spoken, language=lang) == spoken


def test_match_commands_as_whisper_spells_them():
    said = [(" Titre :", 0.0, 0.5), (" Stratégie", 0.6, 1.0), (" d’été.", 1.0, 1.4), (" Bonjour", 2.0, 2.4),
            (" virgule,", 2.4, 2.8), (" ça", 2.9, 3.0), (" va", 3.0, 3.2), (" point", 3.3, 3.5),
            (" d’interrogation", 3.5, 4.0), (" Nouveau", 4.1, 4.3), (" paragraphe,", 4.3, 4.8),
            (" fin", 5.0, 5.2), (" «", 5.3, 5.3), (" oui", 5.4, 5.6), (" »", 5.6, 5.7), (" .", 5.7, 5.8)]
    words = [Word(start, end, text, 0.9) for text, start, end in said]
    segments = [Segment(0, 0.0, 4.0, "", -0.2, 0.0, words[:9]), Segment(1, 4.1, 5.8, "", -0.2, 0.0, words[9:])]
    draft = compose(Transcript(language="fr", duration=6.0, segments=segments))
    assert draft.title == "Stratégie d’été"
    assert [(p.text, p.start, p.end) for p in draft.paragraphs] == [
        (f"Bonjour, ça va{NNBSP}?", 2.0, 3.2), (f"Fin «{NBSP}oui{NBSP}».", 5.0, 5.6)]


def test_replace_model_punctuation_with_command():
    assert body("Hello. Comma. How are you?") == "Hello, how are you?"
    assert body("Bonjour. Virgule. Comment ça va ?", language="fr") == f"Bonjour, comment ça va{NNBSP}?"


def test_capitalise_after_command_sentence_end():
    assert body("we are done full stop next item question mark yes") == "We are done. Next item? Yes."


def test_space_french_high_punctuation():
    text = body("Vraiment point d'interrogation oui point d'exclamation note, deux-points, la suite.", language="fr")
    assert text == f"Vraiment{NNBSP}? Oui{NNBSP}! Note{NBSP}: la suite."
    assert body("Really ? Yes !") == "Really? Yes!"


def test_quote_speech_in_both_languages():
    assert body("He said open quote we will win close quote.") == "He said “we will win”."
    fr = body("Il a dit ouvrez les guillemets nous gagnerons fermez les guillemets.", language="fr")
    assert fr == f"Il a dit «{NBSP}nous gagnerons{NBSP}»."


def test_remove_filler_keeping_sentence_punctuation():
    assert body("We did it, um.") == "We did it."
    assert body("It was, you know, huge.") == "It was huge."
    assert body("Um, we start now.") == "We start now."
    assert body("Euh, ben, je pense que oui.", language="fr") == "Je pense que oui."


def test_scratch_deletes_previous_sentence():
    assert body("First one. Second one. Scratch that. Third one.") == "First one. Third one."


def test_scratch_deletes_unfinished_sentence():
    assert body("First one. We go to Paris, scratch that. We go to Lyon.") == "First one. We go to Lyon."


def test_scratch_at_paragraph_start_deletes_previous_paragraph_last_sentence():
    text = body("One. Two. New paragraph. Scratch that. Three.")
    assert text == "One.\n\nThree."


def test_scratch_at_memo_start_does_nothing():
    assert body("Scratch that. Hello there.") == "Hello there."
    assert body("Efface ça. Bonjour.", language="fr") == "Bonjour."


def test_scratch_after_spoken_title_drops_title():
    draft = compose(memo("Title: Wrong name. Scratch that. Hello there, team."))
    assert draft.title == "Hello there, team"
    assert draft.paragraphs[0].text == "Hello there, team."


def test_take_spoken_title_out_of_body():
    draft = compose(memo("Hello team. Title: our summer plan. We grow."))
    assert draft.title == "Our summer plan"
    assert [p.text for p in draft.paragraphs] == ["Hello team. We grow."]
    fr = compose(memo("Titre : Stratégie d'été. Nous grandissons.", language="fr"))
    assert (fr.title, fr.slug, fr.paragraphs[0].text) == ("Stratégie d'été", "strategie-d-ete", "Nous grandissons.")


def test_end_spoken_title_at_pause():
    draft = compose(memo("Title: summer plan", 1.5, "We grow."))
    assert (draft.title, draft.paragraphs[0].text) == ("Summer plan", "We grow.")


def test_title_from_first_sentence_without_punctuation():
    draft = compose(memo("Quarterly results are in! We grew."))
    assert draft.title == "Quarterly results are in"


def test_shorten_long_title_at_word_boundary():
    sentence = "Our plan " + "for the coming quarter, " * 6 + "is ready."
    draft = compose(memo(sentence), ComposeOptions(title_max_chars=40))
    assert len(draft.title) <= 40
    assert sentence.startswith(draft.title) and sentence[len(draft.title)] in " ,"
    assert draft.title[-1].isalnum()


def test_slugify_folds_accents_and_limits_length():
    assert slugify("Stratégie d’été : bilan !") == "strategie-d-ete-bilan"
    assert slugify("Œuvre & Co") == "oeuvre-co"
    long = slugify("word " * 40)
    assert len(long) <= 60 and not long.endswith("-") and long.startswith("word-word")
    assert slugify("") == ""


def test_excerpt_short_body_untouched_long_body_cut_with_ellipsis():
    assert compose(memo("Short memo.")).excerpt == "Short memo."
    draft = compose(memo("This sentence is long enough to need cutting somewhere. " * 5))
    plain = " ".join(p.text for p in draft.paragraphs)
    assert len(draft.excerpt) <= 160 and draft.excerpt.endswith("…")
    kept = draft.excerpt[:-1]
    assert plain.startswith(kept) and plain[len(kept)] == " "


def test_paragraph_ranges_from_long_pause():
    transcript = memo("First thought here.", 3.0, "Second thought.")
    draft = compose(transcript)
    words = transcript.words
    assert [p.text for p in draft.paragraphs] == ["First thought here.", "Second thought."]
    assert (draft.paragraphs[0].start, draft.paragraphs[0].end) == (words[0].start, words[2].end)
    assert (draft.paragraphs[1].start, draft.paragraphs[1].end) == (words[3].start, words[4].end)


def test_keep_one_paragraph_when_pause_is_mid_sentence():
    assert body("We should", 3.0, "go now.") == "We should go now."


def test_paragraph_ranges_exclude_new_paragraph_command():
    transcript = memo("Alpha beta. New paragraph. Gamma delta.")
    first, second = compose(transcript).paragraphs
    words = transcript.words
    assert (first.start, first.end) == (words[0].start, words[1].end)
    assert (second.start, second.end) == (words[4].start, words[5].end)


def test_fall_back_to_segment_text_without_words():
    segment = Segment(0, 10.0, 14.0, " Hello there. New paragraph. Next one.", -0.2, 0.0, [])
    draft = compose(Transcript(language="en", duration=14.0, segments=[segment]))
    assert [p.text for p in draft.paragraphs] == ["Hello there.", "Next one."]
    assert draft.paragraphs[0].start == 10.0 and draft.paragraphs[1].end <= 14.0
    assert draft.paragraphs[0].end < draft.paragraphs[1].start


def sentences(*pauses: float, words: int = 10) -> list[str | float]:
    """Sentences "S0 beta ... beta." of `words` words, with these silences between them."""
    parts: list[str | float] = []
    for k, pause in enumerate([*pauses, None]):
        parts.append(" ".join([f"S{k}"] + ["beta"] * (words - 2) + ["beta."]))
        if pause is not None:
            parts.append(round(pause - GAP_S, 3))  # memo() already leaves GAP_S between words
    return parts


def starts(*parts, **options) -> list[int]:
    """The sentence each paragraph starts with."""
    draft = compose(memo(*parts), ComposeOptions(**options))
    return [int(p.text.split()[0][1:]) for p in draft.paragraphs]


def test_start_paragraph_at_pause_long_for_this_speaker():
    parts = sentences(0.4, 0.4, 0.4, 0.8, 0.4, 0.4, 0.4, 0.75, 0.4, 0.4)
    assert starts(*parts) == [0, 4, 8]
    transcript = memo(*parts)
    second = compose(transcript).paragraphs[1]
    assert (second.start, second.end) == (transcript.words[40].start, transcript.words[79].end)


def test_judge_pause_against_speaker_own_pace():
    assert starts(*sentences(0.6, 0.6, 0.6, 0.8, 0.6, 0.6, 0.6)) == [0]  # a slow speaker's breath
    assert starts(*sentences(0.3, 0.3, 0.3, 0.6, 0.3, 0.3, 0.3)) == [0, 4]  # a brisk one's paragraph


def test_keep_floor_on_paragraph_pause_for_fast_speaker():
    assert starts(*sentences(0.15, 0.15, 0.15, 0.45, 0.15, 0.15, 0.15)) == [0]
    assert starts(*sentences(0.15, 0.15, 0.15, 0.55, 0.15, 0.15, 0.15)) == [0, 4]


def test_ignore_unmeasured_sentence_gaps_when_judging_pace():
    # (Almost) no gap is where Whisper cut segments; counted, it would drop the bar to the floor.
    parts = sentences(0.0, 0.05, 0.05, 0.4, 0.4, 0.4, 0.55, 0.4, 0.4, 0.4)
    assert starts(*parts) == [0]


def test_keep_short_memo_in_one_paragraph_despite_pause():
    assert starts(*sentences(0.3, 0.9)) == [0]  # three sentences tell nothing of the pace


def test_keep_short_closing_sentence_with_its_paragraph():
    parts = [*sentences(0.4, 0.4, 0.4, 0.4, 0.4, 0.4), 0.9, "Thanks."]
    paragraphs = compose(memo(*parts)).paragraphs
    assert len(paragraphs) == 1 and paragraphs[0].text.endswith("beta. Thanks.")
    assert starts(*sentences(0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.9, words=3), min_paragraph_words=3) == [0, 7]


def test_split_over_long_paragraph_at_longest_sentence_pause():
    pauses = [0.4] * 15
    pauses[9] = 0.5  # longer, though not long enough to be a paragraph pause on its own
    assert starts(*sentences(*pauses)) == [0, 10]
    assert starts(*sentences(*pauses), max_paragraph_words=1000) == [0]


def test_split_over_long_even_paragraph_near_its_middle():
    draft = compose(memo(*sentences(*[0.4] * 29)))
    lengths = [len(p.text.split()) for p in draft.paragraphs]
    assert sum(lengths) == 300 and len(lengths) == 4 and min(lengths) >= 70  # not 10 + 110 + ...
    assert len(compose(memo("Alpha beta " * 100 + "gamma.")).paragraphs) == 1  # one sentence: no cut


def test_keep_dictated_paragraphs_without_pause_breaks():
    parts = sentences(0.4, 0.4, 0.4, 0.8, 0.4, 0.4, 0.4)
    parts[8] += " New paragraph."  # after S4
    assert starts(*parts) == [0, 5]
    assert starts(*parts, pauses_beside_commands=True) == [0, 4, 5]


# A real memo's paragraphs against its reference: tests/test_api_e2e.py, on the drafts the
# server makes of the English and French memos (tests/support/paragraphs.py).


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("spoken", [
    "# 1 priority is growth.",
    "1. Growth matters.",
    "- not a list.",
    "> not a quote.",
    "Use *stars* and _under_ and `ticks` [link](x) and AT&amp;T.",
    "He typed <script>alert(1)</script> here.",
])
def test_escape_markdown_that_would_change_meaning(spoken):
    draft = compose(memo(spoken))
    assert draft.paragraphs[0].text == spoken
    parser = _Text()
    parser.feed(MarkdownIt("commonmark", {"html": True}).render(draft.body_markdown))
    assert parser.tags == ["p"]
    assert "".join(parser.text).strip() == spoken


def test_write_line_breaks_as_backslash_breaks():
    draft = compose(memo("Dear team, new line thanks for the week."))
    assert draft.paragraphs[0].text == "Dear team,\nThanks for the week."
    assert draft.body_markdown == "Dear team,\\\nThanks for the week."
    assert "<br />" in MarkdownIt("commonmark").render(draft.body_markdown)


def test_fall_back_to_english_table_for_unknown_language():
    assert body("Hallo um Welt comma gut", language="de") == "Hallo Welt, gut."
    with pytest.raises(NotFound):
        load_language_table("de")
    with pytest.raises(NotFound):
        load_language_table("../en")
    assert load_language_table("fr-FR").code == "fr"


def test_use_language_override_over_detected():
    draft = compose(memo("Bonjour virgule tout le monde.", language="en"), ComposeOptions(language="fr"))
    assert draft.language == "fr" and draft.paragraphs[0].text == "Bonjour, tout le monde."


def test_compose_empty_draft_for_memo_without_speech():
    draft = compose(Transcript(language="en", duration=5.0, no_speech=True))
    assert (draft.title, draft.slug, draft.excerpt, draft.body_markdown, draft.paragraphs) == ("", "", "", "", [])
