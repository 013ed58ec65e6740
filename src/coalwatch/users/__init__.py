"""Users 用户管理, roles 权限设置 and sign-in 登录."""
