"""Single-molecule localization per frame: CEL0 (IRL1), Deep-STORM, Deep-STORM-ReLU and DeepCEL0."""
