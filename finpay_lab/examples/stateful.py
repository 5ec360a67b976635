"""Step 2: a stateful function. It remembers every call in a global variable."""

balance = 1000  # lives in this process's memory: another process has its own copy


def update_balance(amount: int) -> int:
    global balance
    balance += amount
    return balance


def main():
    print(f"Initial balance: {balance}")
    print(f"After adding 500: {update_balance(500)}")
    print(f"After adding 300: {update_balance(300)}")
    print()
    print("Note: This pattern doesn't scale well across multiple pods!")


if __name__ == "__main__":
    main()
