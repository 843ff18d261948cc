"""Plain-torch equivalents of the networks that bench_analyze.py times (torchvision is not used:
it does not import beside the local CPU torch wheel).

- `resnet152()`: torchvision.models.resnet152's layout and module names ("ResNet v1.5": the
  stride sits in each bottleneck's 3×3 conv; a stage's first block projects its shortcut), so it
  has torchvision's 60,192,808 parameters — the twin of specs/resnet152.net.
- `caffe_resnet50()`: the layout of ResNet-50-deploy.prototxt, the paper authors' Caffe release
  ("v1": the stride sits in the first 1×1 conv of a stage's first block, conv1 has a bias,
  pool1 is 3×3/2 without padding and rounds up, pool5 is a 7×7 average pool) — 25,557,096
  parameters, 3,857,973,248 MACs at 224×224, like the prototxt.
"""

from __future__ import annotations

from torch import Tensor, nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, stride_in_1x1: bool) -> None:
        super().__init__()
        width, out = planes, planes * self.expansion
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, blocks: list[int], *, caffe: bool = False, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=caffe)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        if caffe:  # Caffe pool1: 3×3/2, no padding, rounds up: 112 -> 56
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        else:  # torch: 3×3/2, padding 1, rounds down: 112 -> 56
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for index, (planes, count) in enumerate(zip([64, 128, 256, 512], blocks, strict=True)):
            layers = []
            for i in range(count):
                stride = 2 if i == 0 and index > 0 else 1
                layers.append(Bottleneck(inplanes, planes, stride, stride_in_1x1=caffe))
                inplanes = planes * Bottleneck.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        # Caffe pool5 is a 7×7/1 average pool; torchvision's adaptive pool is the same at 7×7.
        self.avgpool = nn.AvgPool2d(7) if caffe else nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet152() -> ResNet:
    return ResNet([3, 8, 36, 3])


def caffe_resnet50() -> ResNet:
    return ResNet([3, 4, 6, 3], caffe=True)


MODELS = {"resnet152": resnet152, "caffe_resnet50": caffe_resnet50}
