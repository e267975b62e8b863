import pytest

from warmray.config import ToxicityConfig
from warmray.stages.corpus.toxicity import (
    LexiconFilter,
    ModelFilter,
    builtin_lexicon_path,
    conversation_scores,
    make_filter,
    parse_lexicon,
    toxic_score,
)


@pytest.fixture
def lexicon():
    return LexiconFilter({"ass": 0.5, "idiot*": 0.6, "kill yourself": 1.0, "i'll kill you": 1.0, "damn": 0.3})


def test_lexicon_matches_whole_words_only(lexicon):
    assert lexicon.score("This class helps the assistant pass its tests.") == 0.0
    assert lexicon.score("What an ASS.") == 0.5


def test_lexicon_star_matches_word_endings(lexicon):
    assert lexicon.score("idiotic idea") == 0.6
    assert lexicon.score("you idiots") == 0.6


def test_lexicon_phrases_match_across_case_and_spacing(lexicon):
    assert lexicon.score("just Kill \n yourself") == 1.0
    assert lexicon.score("I’ll kill you") == 1.0  # curly apostrophe
    assert lexicon.score("kill the process") == 0.0


def test_lexicon_text_scores_its_heaviest_term(lexicon):
    assert lexicon.scores(["damn", "damn idiot", "nothing here"]) == [0.3, 0.6, 0.0]


def test_parse_lexicon_reads_weights_comments_and_defaults():
    assert parse_lexicon(["# comment", "", "foo\t0.25", "Bar Baz", "qux*\t"]) == {
        "foo": 0.25,
        "bar baz": 1.0,
        "qux*": 1.0,
    }
    with pytest.raises(ValueError, match="line 1"):
        parse_lexicon(["foo\t2"])


def test_builtin_lexicon_flags_abuse_and_passes_ordinary_text():
    scorer = LexiconFilter.from_file(builtin_lexicon_path())
    assert scorer.score("you are a fucking idiot") > 0.5
    assert scorer.score("Here is how to kill a stuck process: run `kill -9 <pid>`.") == 0.0
    assert scorer.score("The assessment class covers Dickens and Shakespeare.") == 0.0


def test_make_filter_reads_a_custom_lexicon(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("banana\t0.9\n")
    scorer = make_filter(ToxicityConfig(lexicon=str(path)))
    assert scorer.scores(["a banana", "an apple"]) == [0.9, 0.0]


def test_toxic_score_ignores_benign_labels():
    out = [
        {"label": "neutral", "score": 0.9},
        {"label": "TOXIC", "score": 0.2},
        {"label": "insult", "score": 0.4},
    ]
    assert toxic_score(out, {"neutral"}) == 0.4
    assert toxic_score([{"label": "non-toxic", "score": 0.99}], {"non-toxic"}) == 0.0


def test_model_filter_calls_the_pipeline_once_batched_and_truncated():
    calls = []

    def pipe(texts, **kwargs):
        calls.append((list(texts), kwargs))
        return [
            [{"label": "toxic", "score": 0.1 * len(t)}, {"label": "neutral", "score": 0.5}] for t in texts
        ]

    scorer = ModelFilter("unused", ["neutral"], batch_size=8, pipe=pipe)
    assert scorer.scores(["a", "abc"]) == pytest.approx([0.1, 0.3])
    assert scorer.scores([]) == []
    assert calls == [(["a", "abc"], {"batch_size": 8, "truncation": True, "top_k": None})]


def test_model_filter_runs_a_real_local_classifier(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"), model_max_length=16)
    labels = {0: "toxic", 1: "insult", 2: "neutral"}
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
        problem_type="multi_label_classification",
    )
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():  # fixed outputs: sigmoid(3) toxic, sigmoid(-3) insult, sigmoid(5) neutral
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([3.0, -3.0, 5.0]))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scorer = make_filter(ToxicityConfig(kind="model", model=str(tmp_path), batch_size=2))
    scores = scorer.scores(["hello world", "hello " * 100, "world"])  # the long one must be truncated
    assert scores == pytest.approx([torch.sigmoid(torch.tensor(3.0)).item()] * 3, abs=1e-5)


def test_conversation_score_is_its_worst_turn_across_batches(lexicon):
    conversations = [["fine", "damn", "idiot"], ["fine"], [], ["ass", "fine"]]
    expected = [(0.6, 2), (0.0, 0), (0.0, 0), (0.5, 0)]
    assert conversation_scores(lexicon, conversations) == expected
    assert conversation_scores(lexicon, conversations, batch_texts=2) == expected
