# id: input_validation_errors
# title: Validate input and report every problem at once
# topic: error_handling
# tags: validation, error messages, ValueError, user input, error handling
from dataclasses import dataclass


@dataclass(frozen=True)
class Order:
    item: str
    quantity: int


class ValidationError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_order(data: dict) -> Order:
    problems = []
    item = data.get("item")
    if not isinstance(item, str) or not item.strip():
        problems.append(f"item: expected a non-empty string, got {item!r}")
    quantity = data.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        problems.append(f"quantity: expected an integer >= 1, got {quantity!r}")
    if problems:
        raise ValidationError(problems)
    return Order(item.strip(), quantity)


if __name__ == "__main__":
    assert parse_order({"item": " pen ", "quantity": 2}) == Order("pen", 2)
    try:
        parse_order({"item": "", "quantity": 0})
    except ValidationError as error:
        assert len(error.problems) == 2 and "quantity" in str(error)
    else:
        raise AssertionError("invalid order accepted")
