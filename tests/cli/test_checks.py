"""The checks a command passes before it runs, each a one-line message."""

import pytest
from jsonargparse import Namespace

from lstm_mnist.cli.checks import check_config_files, check_optimization, one_line, where_set
from lstm_mnist.core.errors import OptionError


def test_a_yaml_mistake_names_its_file_line_and_column(tmp_path):
    (tmp_path / "bad.yaml").write_text("trainer:\n  max_epochs: [1\n")
    with pytest.raises(OptionError, match=r"bad.yaml at line 3, column 1: .*fix the YAML"):
        check_config_files(["fit", "--config", str(tmp_path / "bad.yaml")])
    with pytest.raises(OptionError, match="bad.yaml"):
        check_config_files([f"--config={tmp_path / 'bad.yaml'}"])
    check_config_files(["fit", "--config", str(tmp_path / "missing.yaml")])  # jsonargparse's


def test_a_block_beside_config_is_refused_and_dotted_keys_pass(tmp_path):
    (tmp_path / "base.yaml").write_text("model:\n  hidden_size: 40\n  num_layers: 2\n")
    (tmp_path / "block.yaml").write_text("config: base.yaml\nmodel:\n  init: chrono\n")
    with pytest.raises(OptionError, match=r"block.yaml: the block 'model:' .*'model.init: \.\.\.'"):
        check_config_files(["fit", "--config", str(tmp_path / "block.yaml")])
    (tmp_path / "dotted.yaml").write_text("config: base.yaml\nmodel.init: chrono\n")
    check_config_files(["fit", "--config", str(tmp_path / "dotted.yaml")])


def test_a_block_naming_another_class_replaces_the_section_unless_it_drops_a_setting(tmp_path):
    adam = "optimizer:\n  class_path: torch.optim.Adam\n  init_args:\n    lr: 0.003\n"
    (tmp_path / "base.yaml").write_text(adam)
    sgd = "optimizer:\n  class_path: torch.optim.SGD\n  init_args:\n    momentum: 0.9\n"
    (tmp_path / "sgd.yaml").write_text(f"config: base.yaml\n{sgd}")
    with pytest.raises(OptionError, match=r"sgd.yaml: .*'optimizer:' .* drops its lr: 0.003"):
        check_config_files(["fit", "--config", str(tmp_path / "sgd.yaml")])
    (tmp_path / "restated.yaml").write_text(f"config: base.yaml\n{sgd}    lr: 0.003\n")
    check_config_files(["fit", "--config", str(tmp_path / "restated.yaml")])
    (tmp_path / "same.yaml").write_text(f"config: base.yaml\n{adam.replace('lr', 'eps')}")
    with pytest.raises(OptionError, match=r"same.yaml: the block 'optimizer:' .* would reset"):
        check_config_files(["fit", "--config", str(tmp_path / "same.yaml")])


def test_a_class_setting_beside_config_must_name_init_args(tmp_path):
    cosine = "lr_scheduler:\n  class_path: torch.optim.lr_scheduler.CosineAnnealingLR\n"
    (tmp_path / "base.yaml").write_text(f"{cosine}  init_args:\n    T_max: 40\n")
    (tmp_path / "short.yaml").write_text("config: base.yaml\nlr_scheduler.T_max: 80\n")
    with pytest.raises(
        OptionError, match=r"short.yaml: write 'lr_scheduler.init_args.T_max: \.\.\.'"
    ):
        check_config_files(["fit", "--config", str(tmp_path / "short.yaml")])
    (tmp_path / "block.yaml").write_text("config: base.yaml\nlr_scheduler:\n  T_max: 80\n")
    with pytest.raises(OptionError, match=r"dotted \('lr_scheduler.init_args.T_max: \.\.\.'\)"):
        check_config_files(["fit", "--config", str(tmp_path / "block.yaml")])
    (tmp_path / "long.yaml").write_text("config: base.yaml\nlr_scheduler.init_args.T_max: 80\n")
    check_config_files(["fit", "--config", str(tmp_path / "long.yaml")])


def test_files_that_include_each_other_and_an_empty_file_are_refused(tmp_path):
    (tmp_path / "self.yaml").write_text("config: self.yaml\n")
    (tmp_path / "a.yaml").write_text("config: b.yaml\n")
    (tmp_path / "b.yaml").write_text("config: a.yaml\n")
    (tmp_path / "empty.yaml").write_text("# model.hidden_size: 8\n")
    for name, says in (
        ("self", "self.yaml -> .*/self.yaml"),
        ("a", "a.yaml -> .*/b.yaml -> .*/a.yaml"),
    ):
        with pytest.raises(OptionError, match=f"include each other in a loop .*{says}"):
            check_config_files(["fit", "--config", str(tmp_path / f"{name}.yaml")])
    with pytest.raises(OptionError, match="empty.yaml holds no settings"):
        check_config_files(["fit", "--config", str(tmp_path / "empty.yaml")])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "top.yaml").write_text("config: nothere.yaml\n")
    with pytest.raises(OptionError, match=r"sub/top.yaml: its config: nothere.yaml names no file"):
        check_config_files(["fit", "--config", str(tmp_path / "sub" / "top.yaml")])


def test_an_included_file_is_checked_too(tmp_path):
    (tmp_path / "bad.yaml").write_text("trainer:\n  max_epochs: [1\n")
    (tmp_path / "top.yaml").write_text("config: bad.yaml\nmodel.init: chrono\n")
    with pytest.raises(OptionError, match=r"bad.yaml at line 3"):
        check_config_files(["fit", "--config", str(tmp_path / "top.yaml")])


def test_a_long_message_becomes_its_first_and_most_specific_lines():
    message = """Parser key "optimizer":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'torch.optim.optimizer.Optimizer'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'torch.optim.Optimizer':
        Option 'lr' is not accepted
    - Expected a <class 'NoneType'>
  Given value type: <class 'jsonargparse._util.NestedArg'>"""
    assert one_line(message) == "Parser key \"optimizer\": Option 'lr' is not accepted"
    assert one_line("one line") == "one line"


def test_types_are_said_in_words_not_as_python_spells_them():
    literal = 'Parser key "data.test_time_shifts": Expected a typing.Literal[0, 4, 8]. Got value: 3'
    assert one_line(literal) == 'Parser key "data.test_time_shifts": got 3; choose one of 0, 4, 8'
    boolean = "Parser key \"model.bidirectional\":\n  Expected a <class 'bool'>. Got value: maybe"
    assert one_line(boolean).endswith('"model.bidirectional": got maybe; expected true or false')
    optional = """Parser key "trainer.max_epochs":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'int'>, <class 'NoneType'>]
  Errors:
    - Expected a <class 'int'>
    - Expected a <class 'NoneType'>
  Given value type: <class 'str'>
  Given value: two"""
    assert one_line(optional) == 'Parser key "trainer.max_epochs": got two; expected a whole number'


def test_an_error_names_the_config_file_that_set_its_key(tmp_path):
    (tmp_path / "base.yaml").write_text("data:\n  pad_width: -1\nmodel.hiden_size: 8\n")
    (tmp_path / "top.yaml").write_text("config: base.yaml\ntrainer:\n  max_epochs: 1\n")
    top, base = str(tmp_path / "top.yaml"), tmp_path / "base.yaml"
    argv = ["fit", "--config", top]
    named = where_set("data.pad_width=-1 must be 0 or more.", argv)
    assert named == f"data.pad_width=-1 must be 0 or more (in config file {base})"
    typo = "Subcommand 'fit' does not accept option 'model.hiden_size'"
    assert where_set(typo, argv).endswith(f"(in config file {base})")  # a dotted YAML key
    # Given on the command line too, or set in no file: the message stays as it is.
    assert (
        where_set("data.pad_width=-1 bad.", [*argv, "--data.pad_width=-1"])
        == "data.pad_width=-1 bad."
    )
    assert where_set("data.crop=20 bad.", argv) == "data.crop=20 bad."
    assert where_set('Parser key "trainer.max_epochs": got x', argv).endswith("top.yaml)")


def test_a_derived_model_size_in_a_file_or_on_the_command_line_is_refused(tmp_path):
    # jsonargparse drops a linked key from a file silently, and on the command line names an
    # option no one can give ("must be given via data.input_size").
    for text in ("model.input_size: 30\n", "model:\n  num_classes: 30\n"):
        (tmp_path / "linked.yaml").write_text(text)
        with pytest.raises(OptionError, match=r"linked.yaml: model.\w+ is not a setting"):
            check_config_files(["fit", "--config", str(tmp_path / "linked.yaml")])
    said = one_line('Linked "model.seq_len" must be given via "data.seq_len".')
    assert said.startswith("model.seq_len is not a setting: the data module gives it")


def test_a_class_setting_s_error_names_the_file_that_set_it(tmp_path):
    cycle = "lr_scheduler:\n  class_path: OneCycleLR\n  init_args:\n    total_steps: 1720\n"
    (tmp_path / "fast.yaml").write_text(cycle)
    argv = ["fit", "--config", str(tmp_path / "fast.yaml")]
    said = "lr_scheduler OneCycleLR: total_steps=1720 but this fit takes 8 steps"
    assert where_set(said, argv) == f"{said} (in config file {tmp_path / 'fast.yaml'})"
    assert where_set(said, [*argv, "--lr_scheduler.total_steps", "1720"]) == said


def test_a_scheduler_without_an_optimizer_is_refused_not_dropped():
    scheduler = Namespace(class_path="torch.optim.lr_scheduler.StepLR")
    with pytest.raises(OptionError, match="--lr_scheduler needs an --optimizer beside it"):
        check_optimization(Namespace(optimizer=None, lr_scheduler=scheduler))
    check_optimization(Namespace(optimizer=None, lr_scheduler=None))  # the model's own RMSprop
