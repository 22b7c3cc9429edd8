"""The workflow's refusals in English and French: one template per reason id, filled with
words of the same language.

A refusal travels as an id and raw values (state and action names, role names, a person's
name) so that any client can say it in its own language; `say()` turns it into a sentence.
The tables are data: a new language is one more entry in each of them.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import TypeVar, cast

from dictation.errors import DictationError

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
E = TypeVar("E", bound=DictationError)

# Reason id -> sentence. Placeholders: {action} the button's words, {done} the action as a
# past participle, {state} the memo's state in words, {roles} who may act, {holder} who holds
# the claim, {person} someone named in the request.
TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "no_such_action": "There is no action called '{action}'.",
        "signed_out": "Only a signed-in person can do this.",
        "account_disabled": "This account is disabled.",
        "wrong_role": "Only {roles} can {action} a memo.",
        "not_own_memo": "Authors can only act on their own memos.",
        "wrong_state": "A memo that is {state} cannot be {done}.",
        "no_draft": "This memo has no draft yet.",
        "claimed_by_other": "{holder} has claimed this draft; an admin can reassign it.",
        "already_claimed": "You have already claimed this draft.",
        "nobody_claimed": "Nobody has claimed this draft.",
        "reason_required": "Say what should change: a reason is required to request changes.",
        "changed_meanwhile": "This memo changed meanwhile (it is now {state}); reload and try again.",
        "reassign_admin_only": "Only an admin can reassign a draft.",
        "reassign_not_staff": "{person} is not an active assistant or admin.",
        "cannot_reassign": "A memo that is {state} cannot be reassigned.",
        "frozen_awaiting_signoff": (
            "This draft is awaiting sign-off, so its text cannot change; withdraw the sign-off request to edit it."
        ),
        "signed_text_queued": (
            "The signed-off text is scheduled for publishing; cancel the publication before editing it."
        ),
        "signoff_needed": (
            "The author was asked to sign this draft off; it can be published once they have signed "
            "this version off."
        ),
        "signoff_version_changed": (
            "The draft changed since you read it (it is now version {current}, you read version {version}); "
            "reload it and read it again before signing off."
        ),
        # Refusals of the drafts and publishing services (said again in the caller's language by
        # the API's error handler, from the reason id the error carries).
        "authors_do_not_edit": "Authors comment on drafts and sign them off; an assistant edits them.",
        "edit_frozen": "This draft cannot be edited while its memo is {state}.",
        "claimed_edit": "{holder} has claimed this draft; ask them to release it or an admin to reassign it.",
        "stale_version": (
            "Someone saved this draft after you opened it (it is now version {version}); nothing was "
            "overwritten: merge your changes into the current text and save again."
        ),
        "publish_staff_only": "Only assistants and admins publish drafts.",
        "publish_claimed": "{holder} holds this draft; only they or an admin may publish it.",
        "not_publishable": (
            "This draft is {state}; it can be published once it is ready, in review, approved or already published."
        ),
        "failed_before_ready": "This memo failed before its draft was ready; retry its transcription first.",
        "already_publishing": "This draft is already being published or processed.",
        # The rendering's bounds (dictation.publish.cms.render), for the preview and publishing.
        "markdown_too_complex": (
            "This text has more Markdown formatting than a blog post can carry (list items, headings, "
            "emphasis marks and brackets each take some); remove repeated marks or split it into shorter posts."
        ),
        "markdown_too_deep": (
            "Lists or quotes are nested too deeply in this text (more than 7 lists or 15 quotes inside one "
            "another); flatten the deepest ones."
        ),
        "preview_busy": "Your previous preview is still being made; this one follows when it is ready.",
    },
    "fr": {
        "no_such_action": "Il n’existe pas d’action « {action} ».",
        "signed_out": "Connectez-vous pour faire cela.",
        "account_disabled": "Ce compte est désactivé.",
        "wrong_role": "« {action} » est réservé aux rôles {roles}.",
        "not_own_memo": "Un auteur ne peut agir que sur ses propres mémos.",
        "wrong_state": "Un mémo {state} ne peut pas être {done}.",
        "no_draft": "Ce mémo n’a pas encore de brouillon.",
        "claimed_by_other": "{holder} a pris en charge ce brouillon ; un admin peut le réattribuer.",
        "already_claimed": "Vous avez déjà pris en charge ce brouillon.",
        "nobody_claimed": "Personne n’a pris en charge ce brouillon.",
        "reason_required": "Dites ce qui doit changer : une raison est nécessaire pour demander des modifications.",
        "changed_meanwhile": (
            "Ce mémo a changé entre-temps (il est maintenant {state}) ; rechargez la page et réessayez."
        ),
        "reassign_admin_only": "Seul un admin peut réattribuer un brouillon.",
        "reassign_not_staff": "{person} n’est pas un compte assistant·e ou admin actif.",
        "cannot_reassign": "Un mémo {state} ne peut pas être réattribué.",
        "frozen_awaiting_signoff": (
            "Ce brouillon attend une validation : son texte ne peut pas changer ; retirez la demande de "
            "validation pour le modifier."
        ),
        "signed_text_queued": (
            "Le texte validé est programmé pour publication ; annulez la publication avant de le modifier."
        ),
        "signoff_needed": (
            "L’auteur a été sollicité pour valider ce brouillon ; il pourra être publié une fois cette "
            "version validée."
        ),
        "signoff_version_changed": (
            "Le brouillon a changé depuis votre lecture (il est maintenant en version {current}, vous avez lu "
            "la version {version}) ; rechargez-le et relisez-le avant de le valider."
        ),
        "authors_do_not_edit": (
            "Les auteurs commentent et valident les brouillons ; ce sont les assistant·es qui les modifient."
        ),
        "edit_frozen": "Ce brouillon ne peut pas être modifié tant que son mémo est {state}.",
        "claimed_edit": (
            "{holder} a pris en charge ce brouillon ; demandez-lui de le libérer, ou à un admin de le réattribuer."
        ),
        "stale_version": (
            "Quelqu’un a enregistré ce brouillon après que vous l’avez ouvert (il est maintenant en version "
            "{version}) ; rien n’a été écrasé : reportez vos modifications dans le texte actuel et enregistrez "
            "à nouveau."
        ),
        "publish_staff_only": "Seuls les assistant·es et les admins publient les brouillons.",
        "publish_claimed": (
            "{holder} a pris en charge ce brouillon ; seul·e cette personne ou un admin peut le publier."
        ),
        "not_publishable": (
            "Ce brouillon est {state} ; il pourra être publié une fois prêt, en relecture, validé ou déjà publié."
        ),
        "failed_before_ready": (
            "Ce mémo a échoué avant que son brouillon soit prêt ; relancez d’abord sa transcription."
        ),
        "already_publishing": "Ce brouillon est déjà en cours de publication ou de traitement.",
        "markdown_too_complex": (
            "Ce texte contient plus de mise en forme Markdown qu’un article ne peut en porter (éléments de "
            "liste, titres, marques d’emphase et crochets comptent) ; retirez les marques répétées ou "
            "découpez-le en articles plus courts."
        ),
        "markdown_too_deep": (
            "Des listes ou des citations sont imbriquées trop profondément dans ce texte (plus de 7 listes "
            "ou 15 citations les unes dans les autres) ; aplatissez les plus profondes."
        ),
        "preview_busy": "Votre aperçu précédent est encore en préparation ; celui-ci suivra dès qu’il sera prêt.",
    },
}

# A state as it reads after "a memo that is" / "un mémo".
STATES: dict[str, dict[str, str]] = {
    "en": {
        "received": "just received", "transcribing": "being transcribed", "ready": "ready for review",
        "in_review": "in review", "awaiting_approval": "awaiting sign-off", "approved": "signed off",
        "changes_requested": "waiting for changes", "scheduled": "scheduled", "publishing": "being published",
        "published": "published", "failed": "failed", "archived": "archived",
    },
    "fr": {
        "received": "tout juste reçu", "transcribing": "en cours de transcription", "ready": "prêt pour la relecture",
        "in_review": "en relecture", "awaiting_approval": "en attente de validation", "approved": "validé",
        "changes_requested": "en attente de modifications", "scheduled": "programmé",
        "publishing": "en cours de publication", "published": "publié", "failed": "en échec", "archived": "archivé",
    },
}

# An action: (as it reads in the sentence, as a past participle). English keeps the button's
# label in lower case, as the workflow always said it; French quotes the button.
ACTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "claim": ("claim", "claimed"), "release": ("release", "released"),
        "submit_for_approval": ("send for sign-off", "sent for sign-off"), "approve": ("sign off", "signed off"),
        "request_changes": ("request changes", "sent back with changes"), "archive": ("archive", "archived"),
        "withdraw": ("withdraw the sign-off request for", "withdrawn from sign-off"),
    },
    "fr": {
        "claim": ("Prendre en charge", "pris en charge"), "release": ("Libérer", "libéré"),
        "submit_for_approval": ("Envoyer pour validation", "envoyé pour validation"),
        "approve": ("Valider", "validé"),
        "request_changes": ("Demander des modifications", "renvoyé pour modifications"),
        "archive": ("Archiver", "archivé"),
        "withdraw": ("Retirer la demande de validation", "retiré de la validation"),
    },
}

ROLES: dict[str, dict[str, str]] = {
    "en": {"admin": "an admin", "assistant": "an assistant", "author": "an author"},
    "fr": {"admin": "admin", "assistant": "assistant·e", "author": "auteur"},
}
_OR = {"en": " or ", "fr": " et "}  # "only an admin or an author" / "réservé aux rôles admin et auteur"
_SOMEONE = {"en": "Someone else", "fr": "Quelqu’un d’autre"}  # a claim whose holder is gone


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def say(reason: str, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The sentence for refusal `reason` in `lang` (English for an unknown language).

    `values` are raw: state and action names, role names, people's names, as carried in a
    `TransitionRefused`'s detail; extra keys are ignored.
    """
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    action = str(values.get("action") or "")
    state = str(values.get("state") or "")
    words, done = ACTIONS[lang].get(action, (action, action))
    filled = {
        "action": words,
        "done": done,
        "state": STATES[lang].get(state, state.replace("_", " ")),
        "roles": _roles(cast(Iterable[str], values.get("roles") or ()), lang),
        "holder": values.get("holder") or _SOMEONE[lang],
        "person": values.get("person") or "",
        "version": values.get("version") or "",
        "current": values.get("current") or "",
    }
    return TEMPLATES[lang][reason].format(**filled)


def refused(error: type[E], reason: str, **values: object) -> E:
    """`error` worded in English, carrying `reason` and `values`: the API says it again in
    the caller's language from them (api/errors.py), other doors keep the English."""
    return error(say(reason, DEFAULT_LANGUAGE, **values), reason=reason, **values)


def _roles(roles: Iterable[str], lang: str) -> str:
    names = sorted(ROLES[lang].get(r, r) for r in roles)
    return _OR[lang].join(names)


def preferred_language(user_language: str | None, accept_language: str | None) -> str:
    """The person's own setting first, then the request's best supported language (the
    rule of the review desk's pages, so a toast speaks the page's language)."""
    if user_language in LANGUAGES:
        return user_language
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip():
            ranked.append((quality, -position, tag.strip().split("-")[0].lower()))
    for quality, _, language in sorted(ranked, reverse=True):
        if quality > 0 and language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE
