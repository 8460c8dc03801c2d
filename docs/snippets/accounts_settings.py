import os

SMSC_STATUS = {
    "LOGIN": "shop",  # the "default" account
    "PASSWORD": os.environ.get("SMSC_PASSWORD", ""),
    "TIMEOUT": 10.0,  # inherited by the others
    "ACCOUNTS": {
        "kz": {
            "LOGIN": "shop-kz",
            "PASSWORD": os.environ.get("SMSC_KZ_PASSWORD", ""),
            "ENDPOINT": "https://smsc.kz/sys/soap.php",  # its WSDL namespace follows
            "DEFAULT_REGION": "KZ",  # "8 701 ..." numbers
        },
        "marketing": {
            "LOGIN": "shop-mkt",
            "PASSWORD": os.environ.get("SMSC_MKT_PASSWORD", ""),
        },
    },
}
