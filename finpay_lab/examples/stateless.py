"""Step 1: a stateless function. Same input, same output, on any pod, any number of times."""


def add_balance(user: str, amount: int) -> int:
    return amount + 1000  # depends only on its arguments: nothing is remembered


def main():
    print(f"User: Ravi, Result: {add_balance('Ravi', 5000)}")
    print(f"User: Meena, Result: {add_balance('Meena', 3000)}")
    print(f"User: Ravi, Result: {add_balance('Ravi', 5000)} (consistent)")


if __name__ == "__main__":
    main()
