from classifier.labels import IMAGENET_DOG_CLASSES, imagenet_labels, udacity_labels


def test_imagenet_labels_have_underscores_and_dog_range() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000
    assert labels[208] == "Labrador_retriever"
    assert labels[IMAGENET_DOG_CLASSES[0]] == "Chihuahua"
    assert labels[IMAGENET_DOG_CLASSES[-1]] == "Mexican_hairless"
    assert len(IMAGENET_DOG_CLASSES) == 118


def test_udacity_labels_drop_the_folder_number() -> None:
    labels = udacity_labels()
    assert len(labels) == 133
    assert labels[0] == "Affenpinscher"
    assert labels[-1] == "Yorkshire_terrier"
