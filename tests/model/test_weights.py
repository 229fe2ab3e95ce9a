"""Darknet .weights made for another class count load into a resized network."""

import pytest



def test_weights_for_80_classes_load_into_a_3_class_network_except_the_heads(tmp_path):
    """Fine-tuning from Darknet's COCO weights: the class count of the file is
    found from its size, every layer but the head convolutions is loaded."""
    import torch

    from yolotools.errors import YoloToolsError
    from yolotools.model.weights import load_darknet_weights_resized, save_darknet_weights
    from yolotools.model.zoo import build_model

    torch.manual_seed(1)
    coco = build_model("yolov3-tiny", classes=80, size=96)
    save_darknet_weights(coco, tmp_path / "coco.weights")
    torch.manual_seed(2)
    mine = build_model("yolov3-tiny", classes=3, size=96)
    before = {k: v.clone() for k, v in mine.state_dict().items()}
    info = load_darknet_weights_resized(mine, tmp_path / "coco.weights")
    assert info["file_classes"] == 80
    src, got = coco.state_dict(), mine.state_dict()
    heads = {k for k in got if got[k].shape != src[k].shape}
    assert heads and sorted(heads) == sorted(info["initialised"]) and len(heads) == 4  # weight + bias of the two head convs
    for k in got:
        assert torch.equal(got[k], before[k] if k in heads else src[k]), k
    (tmp_path / "cut.weights").write_bytes((tmp_path / "coco.weights").read_bytes()[:-1000])
    with pytest.raises(YoloToolsError, match="cut.weights: .* fit neither this network nor .* truncated file"):
        load_darknet_weights_resized(build_model("yolov3-tiny", classes=3, size=96), tmp_path / "cut.weights")
